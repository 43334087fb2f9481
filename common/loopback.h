// Whether a listen host is a loopback address: plain text is allowed there
// only (the gRPC API without TLS, the HTTP listener). An IP literal in
// 127.0.0.0/8 or ::1 (brackets allowed), or "localhost"; a host name that
// merely starts with "127." is not one.
#ifndef OCX_COMMON_LOOPBACK_H_
#define OCX_COMMON_LOOPBACK_H_

#include <string>

namespace ocx {

bool IsLoopbackHost(std::string host);

}  // namespace ocx

#endif  // OCX_COMMON_LOOPBACK_H_
