#!/usr/bin/env python3
"""A programmatic Python gRPC client of ocxd over TLS with a client
certificate, built only from the .proto files (docs/security.md).

Starts a real ocxd on 127.0.0.1:0 with TLS, compiles proto/ocx/v1/*.proto
into a temporary directory (grpc_tools.protoc, or Debian's protoc with
grpc_python_plugin when grpc_tools is too old for proto3 `optional`), then
calls ListEvaluations and CreateEvaluation and checks the owner is the
certificate's CN. Exits 77 (skipped) when python3-grpcio is missing.

  python_tls_client_test.py OCXD OCX_TEST_TASK PROTO_DIR MAKE_TEST_CERTS
"""
import getpass
import os
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77


def compile_protos(proto_dir, out):
    protos = [os.path.join(proto_dir, "ocx/v1", f)
              for f in sorted(os.listdir(os.path.join(proto_dir, "ocx/v1")))
              if f.endswith(".proto")]
    try:
        from grpc_tools import protoc  # noqa: F401
        rc = subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", "-I" + proto_dir,
             "--python_out=" + out, "--grpc_python_out=" + out] + protos,
            capture_output=True, text=True)
        if rc.returncode == 0:
            return "grpc_tools.protoc"
        first_error = rc.stderr.strip().splitlines()[:1]
    except ImportError:
        first_error = ["grpc_tools not installed"]
    plugin = shutil.which("grpc_python_plugin")
    if shutil.which("protoc") is None or plugin is None:
        sys.exit("cannot compile the protos: grpc_tools.protoc failed (%s) "
                 "and protoc/grpc_python_plugin are missing" % first_error)
    subprocess.run(["protoc", "-I" + proto_dir, "--python_out=" + out,
                    "--grpc_out=" + out,
                    "--plugin=protoc-gen-grpc=" + plugin] + protos,
                   check=True)
    return "protoc + grpc_python_plugin (grpc_tools: %s)" % first_error


def start_ocxd(ocxd, tmp, certs):
    db = os.path.join(tmp, "ocx.db")
    log = open(os.path.join(tmp, "ocxd.log"), "w")
    proc = subprocess.Popen(
        [ocxd, "--listen", "127.0.0.1:0", "--database", db,
         "--tls-cert", os.path.join(certs, "server.pem"),
         "--tls-key", os.path.join(certs, "server.key"),
         "--tls-client-ca", os.path.join(certs, "ca.pem")]
        # As root the client's CN is root: a root-owned evaluation runs its
        # tasks as root, which ocxd allows only when told to.
        + (["--allow-root-tasks"] if os.geteuid() == 0 else []),
        stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(200):
        if os.path.exists(db + ".address"):
            with open(db + ".address") as f:
                address = f.read().strip()
            if address:
                return proc, address
        if proc.poll() is not None:
            sys.exit("ocxd exited: " + open(log.name).read())
        time.sleep(0.05)
    proc.kill()
    sys.exit("ocxd wrote no address")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    try:
        import grpc
    except ImportError:
        print("SKIP: python3-grpcio is not installed (Debian: apt-get "
              "install python3-grpcio python3-grpc-tools)")
        return SKIP
    ocxd, task, proto_dir, make_certs = sys.argv[1:5]
    user = getpass.getuser()
    with tempfile.TemporaryDirectory(prefix="ocxpy.") as tmp:
        certs = os.path.join(tmp, "certs")
        os.mkdir(certs)
        subprocess.run([make_certs, certs, user], check=True)
        gen = os.path.join(tmp, "gen")
        os.mkdir(gen)
        print("compiled the protos with", compile_protos(proto_dir, gen))
        sys.path.insert(0, gen)
        from ocx.v1 import service_pb2, service_pb2_grpc, spec_pb2

        proc, address = start_ocxd(ocxd, tmp, certs)
        try:
            creds = grpc.ssl_channel_credentials(
                root_certificates=read(os.path.join(certs, "ca.pem")),
                private_key=read(os.path.join(certs, "client-%s.key" % user)),
                certificate_chain=read(
                    os.path.join(certs, "client-%s.pem" % user)))
            stub = service_pb2_grpc.EvaluationServiceStub(
                grpc.secure_channel(address, creds))
            listed = stub.ListEvaluations(
                service_pb2.ListEvaluationsRequest(), timeout=10)
            assert len(listed.evaluations) == 0, listed

            spec = spec_pb2.EvaluationSpec()
            spec.models.add(abbr="m1", type="OpenAISDK", path="x")
            spec.datasets.add(abbr="d1", path="d1.jsonl")
            for stage in (spec.infer, spec.eval):
                stage.runner.task.type = "command"
                stage.runner.task.argv.extend([task, "{task_json}"])
            created = stub.CreateEvaluation(
                service_pb2.CreateEvaluationRequest(spec=spec), timeout=30)
            assert created.owner.user == user, created.owner
            listed = stub.ListEvaluations(
                service_pb2.ListEvaluationsRequest(), timeout=10)
            assert [e.id for e in listed.evaluations] == [created.id], listed

            # Without a client certificate: refused.
            plain_tls = grpc.ssl_channel_credentials(
                root_certificates=read(os.path.join(certs, "ca.pem")))
            try:
                service_pb2_grpc.EvaluationServiceStub(
                    grpc.secure_channel(address, plain_tls)).ListEvaluations(
                        service_pb2.ListEvaluationsRequest(), timeout=10)
                sys.exit("a client without certificate was served")
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.UNAUTHENTICATED, e
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print("PASS: Python client over TLS as", user, "created", created.id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
