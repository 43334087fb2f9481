// `ocx-task serve`: the wrapper a managed-server replica start runs
// (docs/serving.md, serving::ReplicaArgv). It picks a free port, fills the
// serve command's placeholders, writes the endpoint file and then becomes
// the server (execvp), so the server keeps the wrapper's pid, environment
// and supervisor.
//
//   ocx-task serve --endpoint-file F --ports A-B [--port-start S]
//       [--host H] [--model-path P] [--num-gpus N] -- command...
//
// {gpus} is $CUDA_VISIBLE_DEVICES as the runner set it ("" when unset);
// `--host` empty or absent means this node's host name. The port is the
// first from S upward, wrapping to A, in [A, B] that a TCP socket can bind
// on the host's address (any address when the host is not an IPv4
// literal).
//
// Exit codes: does not return when the server starts; 2 bad usage or an
// unknown placeholder; 75 no free port in the range; 127 the program
// cannot be run; 1 the endpoint file cannot be written.
#ifndef OCX_TASK_SERVE_SERVE_MAIN_H_
#define OCX_TASK_SERVE_SERVE_MAIN_H_

namespace ocx::task {

// `args` are the arguments after "serve" (argv-style, args[nargs] unused).
int RunServe(int nargs, char** args);

}  // namespace ocx::task

#endif  // OCX_TASK_SERVE_SERVE_MAIN_H_
