# ocx_link_static_closure(TARGET)
#
# Links TARGET's whole library closure statically where the system ships a
# static archive beside the shared one (Debian's libgrpc++.a,
# libprotobuf.a, libabsl_*.a, libssl.a, ...), so the program maps a handful
# of shared libraries instead of ~60 and starts faster (ocxctl: issue 15).
#
# How: the closure is walked at configure time through LINK_LIBRARIES and
# INTERFACE_LINK_LIBRARIES; project static libraries give their archive,
# imported libraries the .a beside their .so (the .so when there is none),
# and plain items (-pthread, dl, m, rt) are kept. The archives go first on
# the link line, in one --start-group, and --as-needed is on: everything is
# resolved from them, so the shared libraries CMake still appends from the
# same closure satisfy nothing and are not recorded as needed. TARGET keeps
# its ordinary target_link_libraries for usage requirements.
#
# Call it after TARGET's target_link_libraries, once the libraries it uses
# are defined (they are walked as they are then).

# The static archive for a plain link item, into OUT: a shared library's
# path (libz.so) or a -l/bare name (-lre2), when lib<name>.a is beside it
# or on the linker's search path. The C runtime's own libraries stay shared.
function(_ocx_static_archive_of item out)
  set(${out} "" PARENT_SCOPE)
  if(item MATCHES "^(.*/lib[^/]+)\\.so(\\.[0-9]+)*$")
    if(EXISTS "${CMAKE_MATCH_1}.a")
      set(${out} "${CMAKE_MATCH_1}.a" PARENT_SCOPE)
    endif()
    return()
  endif()
  if(item MATCHES "^-l(.+)$")
    set(name "${CMAKE_MATCH_1}")
  elseif(item MATCHES "^[A-Za-z0-9_][A-Za-z0-9_+.-]*$")
    set(name "${item}")
  else()
    return()
  endif()
  if(name MATCHES "^(c|m|dl|rt|pthread|stdc\\+\\+|gcc_s)$")
    return()
  endif()
  find_library(_ocx_static_${name} NAMES lib${name}.a)
  if(_ocx_static_${name})
    set(${out} "${_ocx_static_${name}}" PARENT_SCOPE)
  endif()
endfunction()

# Appends to the caller's `archives` and `plain` what ITEM brings.
function(_ocx_static_walk item)
  # Generator expressions: $<LINK_ONLY:x> is x; platform-conditional ones
  # ($<$<PLATFORM_ID:Darwin>:...>) bring nothing on Linux.
  if(item MATCHES "^\\$<LINK_ONLY:(.+)>$")
    set(item "${CMAKE_MATCH_1}")
  elseif(item MATCHES "^\\$<")
    return()
  endif()
  if(item STREQUAL "")
    return()
  endif()
  get_property(seen GLOBAL PROPERTY _ocx_static_seen)
  if("${item}" IN_LIST seen)
    return()
  endif()
  set_property(GLOBAL APPEND PROPERTY _ocx_static_seen "${item}")
  if(NOT TARGET "${item}")
    _ocx_static_archive_of("${item}" archive)
    if(archive)
      list(APPEND archives "${archive}")
      set(archives "${archives}" PARENT_SCOPE)
    else()
      list(APPEND plain "${item}")
      set(plain "${plain}" PARENT_SCOPE)
    endif()
    return()
  endif()
  get_target_property(aliased "${item}" ALIASED_TARGET)
  if(aliased)
    set(item "${aliased}")
  endif()
  get_target_property(type "${item}" TYPE)
  get_target_property(imported "${item}" IMPORTED)
  set(deps "")
  if(NOT type STREQUAL "INTERFACE_LIBRARY")
    if(imported)
      set(location "")
      foreach(prop IMPORTED_LOCATION_NONE IMPORTED_LOCATION_RELEASE
              IMPORTED_LOCATION_RELWITHDEBINFO IMPORTED_LOCATION)
        get_target_property(found "${item}" ${prop})
        if(found AND NOT location)
          set(location "${found}")
        endif()
      endforeach()
      _ocx_static_archive_of("${location}" archive)
      if(archive)
        list(APPEND archives "${archive}")
      elseif(location)
        message(STATUS "ocx: no static archive for ${item}: ${location}")
        list(APPEND plain "${location}")
      endif()
    elseif(type STREQUAL "STATIC_LIBRARY")
      list(APPEND archives "$<TARGET_FILE:${item}>")
      get_target_property(own "${item}" LINK_LIBRARIES)
      if(own)
        list(APPEND deps ${own})
      endif()
    endif()
  endif()
  get_target_property(interface "${item}" INTERFACE_LINK_LIBRARIES)
  if(interface)
    list(APPEND deps ${interface})
  endif()
  foreach(dep IN LISTS deps)
    _ocx_static_walk("${dep}")
  endforeach()
  set(archives "${archives}" PARENT_SCOPE)
  set(plain "${plain}" PARENT_SCOPE)
endfunction()

function(ocx_link_static_closure target)
  set_property(GLOBAL PROPERTY _ocx_static_seen "")
  set(archives "")
  set(plain "")
  get_target_property(direct "${target}" LINK_LIBRARIES)
  foreach(item IN LISTS direct)
    _ocx_static_walk("${item}")
  endforeach()
  # Before CMake's own items: the archives resolve everything first.
  get_target_property(current "${target}" LINK_LIBRARIES)
  set_property(TARGET "${target}" PROPERTY LINK_LIBRARIES
    "-Wl,--as-needed" "-Wl,--start-group" ${archives} "-Wl,--end-group"
    ${plain} ${current})
endfunction()
