#!/usr/bin/python3
"""Self-test of grpcurl.py, run as a command line against a real gRPC server.

The server runs in this process (grpcio) and serves testdata/echo.proto, the
health service and its own implementation of grpc.reflection.v1alpha over the
process's descriptor pool. That reflection service answers
file_containing_symbol with the one file that defines the symbol and no
imports, so grpcurl.py must fetch google/protobuf/timestamp.proto itself, as
grpcurl does against servers that send files one at a time.

End-to-end checks against the real C++ services live with their tests.
Run: /usr/bin/python3 tests/grpcurl/grpcurl_test.py -v
"""

import json
import os
import subprocess
import sys
import unittest
from concurrent import futures

import grpc
from google.protobuf import any_pb2
from google.protobuf import descriptor_pool

HERE = os.path.dirname(os.path.abspath(__file__))
GRPCURL = os.path.join(HERE, "grpcurl.py")
sys.path.insert(0, HERE)

import grpcurl  # noqa: E402  (after the path tweak)

reflection_pb2, health_pb2, health_pb2_grpc = grpcurl.own_stubs()
echo_pb2, echo_pb2_grpc = grpcurl.load_proto_modules(
    ["echo.proto"], [os.path.join(HERE, "testdata"), "/usr/include"]
)["echo.proto"]

ECHO_SERVICE = "grpcurl.test.v1.EchoService"
HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_SERVICE = "grpc.reflection.v1alpha.ServerReflection"


class EchoServicer(echo_pb2_grpc.EchoServiceServicer):
    """Echoes; message "not found" fails with NOT_FOUND, "details" with
    FAILED_PRECONDITION and an ErrorHint in google.rpc.Status details."""

    def Echo(self, request, context):
        if request.message == "not found":
            context.abort(grpc.StatusCode.NOT_FOUND, "no such echo")
        if request.message == "details":
            status = grpcurl.google_rpc_status_class()(code=9, message="not now")
            detail = any_pb2.Any()
            detail.Pack(echo_pb2.ErrorHint(hint="try again"))
            status.details.add().MergeFromString(detail.SerializeToString())
            context.set_trailing_metadata([("grpc-status-details-bin", status.SerializeToString())])
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "not now")
        metadata = dict(context.invocation_metadata())
        return echo_pb2.EchoResponse(request=request, echo_header=metadata.get("x-echo", ""))

    def Count(self, request, context):
        for n in range(1, request.count + 1):
            yield echo_pb2.CountResponse(n=n)


class HealthServicer(health_pb2_grpc.HealthServicer):
    def Check(self, request, context):
        if request.service in ("", ECHO_SERVICE):
            return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)
        if request.service == "sick":
            return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.NOT_SERVING)
        context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")


def reflection_handler(service_names):
    """grpc.reflection.v1alpha over this process's default descriptor pool."""
    pool = descriptor_pool.Default()

    def serve(requests, context):
        for request in requests:
            response = reflection_pb2.ServerReflectionResponse(original_request=request)
            kind = request.WhichOneof("message_request")
            try:
                if kind == "list_services":
                    for name in service_names:
                        response.list_services_response.service.add(name=name)
                elif kind == "file_containing_symbol":
                    f = pool.FindFileContainingSymbol(request.file_containing_symbol)
                    response.file_descriptor_response.file_descriptor_proto.append(f.serialized_pb)
                elif kind == "file_by_filename":
                    f = pool.FindFileByName(request.file_by_filename)
                    response.file_descriptor_response.file_descriptor_proto.append(f.serialized_pb)
                else:
                    response.error_response.error_code = grpc.StatusCode.UNIMPLEMENTED.value[0]
                    response.error_response.error_message = f"{kind} not implemented"
            except KeyError:
                response.error_response.error_code = grpc.StatusCode.NOT_FOUND.value[0]
                response.error_response.error_message = "not found"
            yield response

    return grpc.method_handlers_generic_handler(
        REFLECTION_SERVICE,
        {
            "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                serve,
                request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
            )
        },
    )


def start_server(with_reflection=True):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    echo_pb2_grpc.add_EchoServiceServicer_to_server(EchoServicer(), server)
    health_pb2_grpc.add_HealthServicer_to_server(HealthServicer(), server)
    if with_reflection:
        server.add_generic_rpc_handlers(
            (reflection_handler([ECHO_SERVICE, HEALTH_SERVICE, REFLECTION_SERVICE]),)
        )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"


def run(*args, stdin=None):
    """Runs grpcurl.py; returns (exit code, stdout, stderr)."""
    result = subprocess.run(
        [sys.executable, GRPCURL, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.returncode, result.stdout, result.stderr


class GrpcurlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server, cls.addr = start_server()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop(None)

    def ok(self, *args, stdin=None):
        code, out, err = run(*args, stdin=stdin)
        self.assertEqual(code, 0, f"stdout:\n{out}\nstderr:\n{err}")
        return out

    def test_list_services(self):
        out = self.ok("-plaintext", self.addr, "list")
        self.assertEqual(out.splitlines(), sorted([ECHO_SERVICE, HEALTH_SERVICE, REFLECTION_SERVICE]))

    def test_list_methods(self):
        out = self.ok("-plaintext", self.addr, "list", ECHO_SERVICE)
        self.assertEqual(out.splitlines(), [f"{ECHO_SERVICE}.Echo", f"{ECHO_SERVICE}.Count"])

    def test_list_unknown_service(self):
        code, _, err = run("-plaintext", self.addr, "list", "no.Such")
        self.assertEqual(code, 1)
        self.assertIn('Failed to list methods for service "no.Such"', err)

    def test_describe_service(self):
        out = self.ok("-plaintext", self.addr, "describe", ECHO_SERVICE)
        self.assertEqual(
            out,
            f"{ECHO_SERVICE} is a service:\n"
            "service EchoService {\n"
            "  rpc Echo ( .grpcurl.test.v1.EchoRequest ) returns ( .grpcurl.test.v1.EchoResponse );\n"
            "  rpc Count ( .grpcurl.test.v1.CountRequest ) returns ( stream .grpcurl.test.v1.CountResponse );\n"
            "}\n",
        )

    def test_describe_message_resolves_imports(self):
        out = self.ok("-plaintext", self.addr, "describe", "grpcurl.test.v1.EchoRequest")
        self.assertTrue(out.startswith("grpcurl.test.v1.EchoRequest is a message:\nmessage EchoRequest {\n"), out)
        for line in (
            "  string message = 1;",
            "  int64 big_number = 2;",
            "  .google.protobuf.Timestamp at = 3;",
            "  map<string, int32> tags = 4;",
            "  oneof choice {",
            "    string name = 5;",
            "    int32 id = 6;",
            "  .grpcurl.test.v1.EchoRequest.Mood mood = 7;",
            "  optional string note = 8;",
            "  enum Mood {",
            "    MOOD_HAPPY = 1;",
        ):
            self.assertIn(line + "\n", out)

    def test_describe_method_and_health(self):
        out = self.ok("-plaintext", self.addr, "describe", f"{ECHO_SERVICE}.Count")
        self.assertIn("rpc Count ( .grpcurl.test.v1.CountRequest ) returns ( stream", out)
        out = self.ok("-plaintext", self.addr, "describe", HEALTH_SERVICE)
        self.assertTrue(out.startswith(f"{HEALTH_SERVICE} is a service:\n"), out)
        self.assertIn("rpc Check ( .grpc.health.v1.HealthCheckRequest )", out)

    def test_describe_unknown_symbol(self):
        code, _, err = run("-plaintext", self.addr, "describe", "no.Such")
        self.assertEqual(code, 1)
        self.assertIn("Symbol not found: no.Such", err)

    def test_call_round_trips_json_and_metadata(self):
        request = {
            "message": "hello",
            "bigNumber": "9007199254740993",
            "at": "2024-01-02T03:04:05Z",
            "tags": {"a": 1},
            "id": 7,
            "mood": "MOOD_HAPPY",
            "note": "",
        }
        out = self.ok(
            "-plaintext", "-H", "x-echo: hi there", "-d", json.dumps(request), self.addr, f"{ECHO_SERVICE}/Echo"
        )
        self.assertEqual(json.loads(out), {"request": request, "echoHeader": "hi there"})

    def test_call_with_dotted_method_and_stdin(self):
        out = self.ok("-plaintext", "-d", "@", self.addr, f"{ECHO_SERVICE}.Echo", stdin='{"message": "x"}')
        self.assertEqual(json.loads(out), {"request": {"message": "x"}})

    def test_keep_proto_names(self):
        out = self.ok("-plaintext", "-keep-proto-names", "-d", '{"bigNumber": "5"}', self.addr, f"{ECHO_SERVICE}/Echo")
        self.assertEqual(json.loads(out), {"request": {"big_number": "5"}})

    def test_call_without_data_sends_empty_message(self):
        out = self.ok("-plaintext", "-emit-defaults", self.addr, f"{ECHO_SERVICE}/Echo")
        self.assertEqual(json.loads(out)["echoHeader"], "")

    def test_error_status(self):
        code, out, err = run("-plaintext", "-d", '{"message": "not found"}', self.addr, f"{ECHO_SERVICE}/Echo")
        self.assertEqual(code, 64 + 5)
        self.assertEqual(out, "")
        self.assertEqual(err, "ERROR:\n  Code: NotFound\n  Message: no such echo\n")

    def test_error_details_resolved_through_reflection(self):
        code, _, err = run("-plaintext", "-d", '{"message": "details"}', self.addr, f"{ECHO_SERVICE}/Echo")
        self.assertEqual(code, 64 + 9)
        self.assertTrue(err.startswith("ERROR:\n  Code: FailedPrecondition\n  Message: not now\n  Details:\n  1)\t{"), err)
        self.assertIn('"@type": "type.googleapis.com/grpcurl.test.v1.ErrorHint"', err)
        self.assertIn('"hint": "try again"', err)

    def test_server_streaming(self):
        out = self.ok("-plaintext", "-d", '{"count": 3}', self.addr, f"{ECHO_SERVICE}/Count")
        decoder = json.JSONDecoder()
        values, pos = [], 0
        while out[pos:].strip():
            while out[pos].isspace():
                pos += 1
            value, pos = decoder.raw_decode(out, pos)
            values.append(value)
        self.assertEqual(values, [{"n": 1}, {"n": 2}, {"n": 3}])

    def test_unknown_service_and_method(self):
        code, _, err = run("-plaintext", self.addr, "no.Such/Method")
        self.assertEqual(code, 1)
        self.assertIn('target server does not expose service "no.Such"', err)
        code, _, err = run("-plaintext", self.addr, f"{ECHO_SERVICE}/Nope")
        self.assertEqual(code, 1)
        self.assertIn(f'service "{ECHO_SERVICE}" does not include a method named "Nope"', err)

    def test_bad_request_json(self):
        code, _, err = run("-plaintext", "-d", '{"nope": 1}', self.addr, f"{ECHO_SERVICE}/Echo")
        self.assertEqual(code, 1)
        self.assertIn("failed to parse request data", err)

    def test_health_check_through_reflection(self):
        out = self.ok("-plaintext", self.addr, f"{HEALTH_SERVICE}/Check")
        self.assertEqual(json.loads(out), {"status": "SERVING"})
        code, _, err = run("-plaintext", "-d", '{"service": "other"}', self.addr, f"{HEALTH_SERVICE}/Check")
        self.assertEqual(code, 64 + 5)
        self.assertEqual(err, "ERROR:\n  Code: NotFound\n  Message: unknown service\n")

    def test_health_command(self):
        out = self.ok("-plaintext", self.addr, "health")
        self.assertEqual(json.loads(out), {"status": "SERVING"})
        code, out, _ = run("-plaintext", self.addr, "health", "sick")
        self.assertEqual(code, 1)
        self.assertEqual(json.loads(out), {"status": "NOT_SERVING"})

    def test_usage_errors(self):
        for args in ([], [self.addr], ["-nope", self.addr, "list"], ["-d", "{}", self.addr, "list"]):
            code, _, err = run(*args)
            self.assertEqual(code, 2, args)
            self.assertIn("Usage:", err)

    def test_unreachable_server(self):
        code, _, err = run("-plaintext", "-connect-timeout", "0.5", "127.0.0.1:1", "list")
        self.assertEqual(code, 1)
        self.assertIn('Failed to dial target host "127.0.0.1:1"', err)


class NoReflectionTest(unittest.TestCase):
    def test_reports_missing_reflection(self):
        server, addr = start_server(with_reflection=False)
        try:
            code, _, err = run("-plaintext", addr, "list")
            self.assertEqual(code, 1)
            self.assertIn("server does not support the reflection API", err)
            # Our own health command does not need reflection.
            code, _, _ = run("-plaintext", addr, "health")
            self.assertEqual(code, 0)
        finally:
            server.stop(None)


if __name__ == "__main__":
    unittest.main()
