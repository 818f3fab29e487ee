#!/usr/bin/python3
"""A grpcurl-like command-line client, for tests and for machines without grpcurl.

It takes grpcurl's arguments and prints what grpcurl prints, so a test can
check "what grpcurl would do" against a running server:

  grpcurl.py [flags] ADDR list [SERVICE]
  grpcurl.py [flags] ADDR describe [SYMBOL]
  grpcurl.py [flags] ADDR full.package.Service/Method     (or Service.Method)
  grpcurl.py [flags] ADDR health [SERVICE]                 (not in grpcurl: see below)

Flags (before ADDR, one or two dashes, like grpcurl's):
  -plaintext            no TLS (otherwise TLS, verified with -cacert or the
                        system's roots)
  -cacert FILE, -cert FILE, -key FILE, -servername NAME   TLS settings
  -d DATA               request message(s) as JSON; "@" reads them from stdin.
                        Without -d the request is empty ({}).
  -H 'key: value'       request metadata, repeatable (keys ending in -bin take
                        base64 values); sent on reflection requests too
  -max-time SECONDS     deadline for the whole call
  -connect-timeout SECONDS  (default 10)
  -emit-defaults        print fields that hold their default value
  -keep-proto-names     print fields with their .proto names, not lowerCamelCase
  -v                    also print response headers and trailers

Like grpcurl, calls and `describe` learn every descriptor only from the
server's reflection service (grpc.reflection.v1alpha): the files that define
the symbol and, recursively, the files they import. Messages are built
dynamically from those descriptors (json_format in, json_format out).

On an RPC error it prints, as grpcurl does,
  ERROR:
    Code: NotFound
    Message: ...
(plus `Details:` decoded from grpc-status-details-bin, each Any resolved
through reflection) and exits with 64 + the numeric status code, as grpcurl
does; other failures exit 1, usage errors 2.

`health [SERVICE]` is our addition: it calls grpc.health.v1.Health/Check with
the client's own copy of health.proto (from Debian's grpc-proto), so it does
not depend on reflection: scripts use it to wait for a server. To check what
grpcurl sees, call `grpc.health.v1.Health/Check` instead.

The client's own stubs (reflection.proto, health.proto) are generated at run
time with protoc and grpc_python_plugin (Debian: protobuf-compiler,
protobuf-compiler-grpc, grpc-proto); see load_proto_modules().
Run it with Debian's /usr/bin/python3 (python3-grpcio, python3-protobuf).
"""

import atexit
import base64
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import grpc
from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import json_format
from google.protobuf import message_factory

GRPC_PROTO_DIR = os.environ.get("GRPC_PROTO_DIR", "/usr/share/grpc-proto")
PROTOC = os.environ.get("PROTOC", "protoc")
GRPC_PYTHON_PLUGIN = os.environ.get("GRPC_PYTHON_PLUGIN", "/usr/bin/grpc_python_plugin")

# grpcurl exits with this plus the status code when an RPC fails.
STATUS_CODE_OFFSET = 64

REFLECTION_METHOD = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
HEALTH_CHECK_METHOD = "/grpc.health.v1.Health/Check"


class UsageError(Exception):
    """Bad command line: exit 2 with the usage text."""


class ClientError(Exception):
    """Anything but an RPC status from the called method: exit 1."""


# --------------------------------------------------------------------------
# Stubs generated at run time.


def load_proto_modules(proto_files, include_dirs, out_dir=None):
    """Compiles .proto files to Python and imports them.

    proto_files: paths relative to the first include dir that holds them.
    include_dirs: -I roots for protoc.
    out_dir: where the generated code goes; when None, a new temporary
      directory, deleted when the process exits (the modules are loaded by
      then).
    Returns {proto file: (pb2 module, pb2_grpc module)}.

    Files are compiled with their own directory as the import root, so that
    grpc/health/v1/health.proto becomes the top-level module health_pb2: the
    natural module path grpc.health.v1 would collide with the grpcio package.
    Raises ClientError when protoc fails.
    """
    if out_dir is None:
        out_dir = tempfile.mkdtemp(prefix="grpcurl-py-")
        atexit.register(shutil.rmtree, out_dir, True)
    modules = {}
    for rel in proto_files:
        root = next((d for d in include_dirs if os.path.exists(os.path.join(d, rel))), None)
        if root is None:
            raise ClientError(f"{rel} not found under {include_dirs}")
        file_dir = os.path.dirname(os.path.join(root, rel))
        cmd = [
            PROTOC,
            f"-I{file_dir}",
            *(f"-I{d}" for d in include_dirs),
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            f"--plugin=protoc-gen-grpc_python={GRPC_PYTHON_PLUGIN}",
            os.path.join(file_dir, os.path.basename(rel)),
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ClientError(f"protoc failed for {rel}:\n{result.stderr}")
        base = os.path.splitext(os.path.basename(rel))[0]
        if out_dir not in sys.path:
            sys.path.insert(0, out_dir)
        modules[rel] = (
            importlib.import_module(f"{base}_pb2"),
            importlib.import_module(f"{base}_pb2_grpc"),
        )
    return modules


_OWN_STUBS = None


def own_stubs():
    """(reflection_pb2, health_pb2, health_pb2_grpc), generated once per process."""
    global _OWN_STUBS
    if _OWN_STUBS is None:
        mods = load_proto_modules(
            ["grpc/reflection/v1alpha/reflection.proto", "grpc/health/v1/health.proto"],
            [GRPC_PROTO_DIR],
        )
        _OWN_STUBS = (
            mods["grpc/reflection/v1alpha/reflection.proto"][0],
            mods["grpc/health/v1/health.proto"][0],
            mods["grpc/health/v1/health.proto"][1],
        )
    return _OWN_STUBS


def google_rpc_status_class():
    """google.rpc.Status, declared here: no Debian Python package ships it.

    Its wire format is fixed (code = 1, message = 2, details = 3); the Anys
    in details are resolved through reflection when printed.
    """
    fdp = descriptor_pb2.FileDescriptorProto(
        name="grpcurl_py/google_rpc_status.proto",
        package="google.rpc",
        syntax="proto3",
        dependency=["google/protobuf/any.proto"],
    )
    msg = fdp.message_type.add(name="Status")
    F = descriptor_pb2.FieldDescriptorProto
    msg.field.add(name="code", number=1, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL, json_name="code")
    msg.field.add(name="message", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL, json_name="message")
    msg.field.add(
        name="details",
        number=3,
        type=F.TYPE_MESSAGE,
        label=F.LABEL_REPEATED,
        type_name=".google.protobuf.Any",
        json_name="details",
    )
    from google.protobuf import any_pb2

    pool = descriptor_pool.DescriptorPool()
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(any_pb2.DESCRIPTOR.serialized_pb))
    pool.Add(fdp)
    return message_factory.MessageFactory(pool).GetPrototype(pool.FindMessageTypeByName("google.rpc.Status"))


# --------------------------------------------------------------------------
# Server reflection.


class ReflectionClient:
    """Resolves symbols and files through grpc.reflection.v1alpha.

    Keeps one DescriptorPool that grows as files are fetched; each file is
    added after every file it imports. Not thread-safe.
    """

    def __init__(self, channel, metadata, timeout):
        self._reflection_pb2 = own_stubs()[0]
        self._call = channel.stream_stream(
            REFLECTION_METHOD,
            request_serializer=self._reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=self._reflection_pb2.ServerReflectionResponse.FromString,
        )
        self._metadata = metadata
        self._timeout = timeout
        self.pool = descriptor_pool.DescriptorPool()
        self._factory = message_factory.MessageFactory(self.pool)
        self._fetched = {}  # file name -> FileDescriptorProto
        self._added = set()

    def _ask(self, **request_fields):
        request = self._reflection_pb2.ServerReflectionRequest(**request_fields)
        try:
            responses = list(self._call(iter([request]), metadata=self._metadata, timeout=self._timeout))
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.UNIMPLEMENTED:
                raise ClientError("server does not support the reflection API") from e
            raise
        if len(responses) != 1:
            raise ClientError(f"reflection: expected one response, got {len(responses)}")
        response = responses[0]
        if response.HasField("error_response"):
            err = response.error_response
            raise LookupError(err.error_message or f"reflection error {err.error_code}")
        return response

    def list_services(self):
        response = self._ask(list_services="*")
        return sorted(s.name for s in response.list_services_response.service)

    def _take_files(self, response):
        names = []
        for raw in response.file_descriptor_response.file_descriptor_proto:
            fdp = descriptor_pb2.FileDescriptorProto.FromString(raw)
            self._fetched.setdefault(fdp.name, fdp)
            names.append(fdp.name)
        return names

    def _add_file(self, name, visiting=()):
        """Adds file `name` and, first, its imports (fetched by file name if the
        server did not already send them)."""
        if name in self._added:
            return
        if name in visiting:
            raise ClientError(f"import cycle through {name}")
        if name not in self._fetched:
            try:
                self._take_files(self._ask(file_by_filename=name))
            except LookupError as e:
                raise ClientError(f"server cannot provide {name} (imported by a described file): {e}") from e
            if name not in self._fetched:
                raise ClientError(f"server did not return {name}")
        fdp = self._fetched[name]
        for dep in fdp.dependency:
            self._add_file(dep, visiting + (name,))
        self.pool.Add(fdp)
        self._added.add(name)

    def find_symbol(self, symbol):
        """Returns the descriptor of a fully-qualified symbol, or raises LookupError."""
        symbol = symbol.lstrip(".")
        try:
            return self._find_in_pool(symbol)
        except KeyError:
            pass
        names = self._take_files(self._ask(file_containing_symbol=symbol))
        if names:
            self._add_file(names[0])
        for name in names[1:]:
            self._add_file(name)
        try:
            return self._find_in_pool(symbol)
        except KeyError as e:
            raise LookupError(f"Symbol not found: {symbol}") from e

    def _find_in_pool(self, symbol):
        finders = (
            self.pool.FindServiceByName,
            self.pool.FindMessageTypeByName,
            self.pool.FindEnumTypeByName,
            self.pool.FindExtensionByName,
        )
        for finder in finders:
            try:
                return finder(symbol)
            except KeyError:
                continue
        parent, _, leaf = symbol.rpartition(".")
        if parent:
            for finder, members in (
                (self.pool.FindServiceByName, lambda d: d.methods_by_name),
                (self.pool.FindMessageTypeByName, lambda d: d.fields_by_name),
                (self.pool.FindEnumTypeByName, lambda d: d.values_by_name),
            ):
                try:
                    container = finder(parent)
                except KeyError:
                    continue
                if leaf in members(container):
                    return members(container)[leaf]
        raise KeyError(symbol)

    def message_class(self, descriptor):
        return self._factory.GetPrototype(descriptor)


# --------------------------------------------------------------------------
# Describing descriptors as .proto source, the way grpcurl does.

_SCALAR_NAMES = {
    1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64",
    7: "fixed32", 8: "bool", 9: "string", 12: "bytes", 13: "uint32",
    15: "sfixed32", 16: "sfixed64", 17: "sint32", 18: "sint64",
}


def _type_name(field):
    if field.message_type is not None:
        return "." + field.message_type.full_name
    if field.enum_type is not None:
        return "." + field.enum_type.full_name
    return _SCALAR_NAMES[field.type]


def _is_map(field):
    return (
        field.message_type is not None
        and field.message_type.GetOptions().map_entry
        and field.label == field.LABEL_REPEATED
    )


def _is_proto3_optional(field):
    oneof = field.containing_oneof
    return oneof is not None and len(oneof.fields) == 1 and oneof.name == "_" + field.name


def _field_line(field, proto3):
    if _is_map(field):
        key = field.message_type.fields_by_name["key"]
        value = field.message_type.fields_by_name["value"]
        type_ = f"map<{_type_name(key)}, {_type_name(value)}>"
    else:
        type_ = _type_name(field)
        if field.label == field.LABEL_REPEATED:
            type_ = "repeated " + type_
        elif _is_proto3_optional(field) or (not proto3 and field.label == field.LABEL_OPTIONAL):
            type_ = "optional " + type_
        elif field.label == field.LABEL_REQUIRED:
            type_ = "required " + type_
    return f"{type_} {field.name} = {field.number};"


def _describe_enum(enum, indent=""):
    lines = [f"{indent}enum {enum.name} {{"]
    for value in enum.values:
        lines.append(f"{indent}  {value.name} = {value.number};")
    lines.append(f"{indent}}}")
    return lines


def _describe_message(message, indent=""):
    proto3 = message.file.syntax == "proto3"
    lines = [f"{indent}message {message.name} {{"]
    inner = indent + "  "
    emitted_oneofs = set()
    for field in message.fields:
        oneof = field.containing_oneof
        if oneof is not None and not _is_proto3_optional(field):
            if oneof.name in emitted_oneofs:
                continue
            emitted_oneofs.add(oneof.name)
            lines.append(f"{inner}oneof {oneof.name} {{")
            for member in oneof.fields:
                lines.append(f"{inner}  {_field_line(member, proto3)}")
            lines.append(f"{inner}}}")
            continue
        lines.append(inner + _field_line(field, proto3))
    for nested in message.nested_types:
        if nested.GetOptions().map_entry:
            continue
        lines.extend(_describe_message(nested, inner))
    for enum in message.enum_types:
        lines.extend(_describe_enum(enum, inner))
    lines.append(f"{indent}}}")
    return lines


def _method_line(method):
    proto = descriptor_pb2.MethodDescriptorProto()
    method.CopyToProto(proto)
    req = ("stream " if proto.client_streaming else "") + "." + method.input_type.full_name
    resp = ("stream " if proto.server_streaming else "") + "." + method.output_type.full_name
    return f"rpc {method.name} ( {req} ) returns ( {resp} );"


def describe(descriptor):
    """grpcurl's text for one descriptor: 'X is a KIND:' and its source."""
    from google.protobuf import descriptor as d

    name = descriptor.full_name
    if isinstance(descriptor, d.ServiceDescriptor):
        lines = [f"{name} is a service:", f"service {descriptor.name} {{"]
        lines += ["  " + _method_line(m) for m in descriptor.methods]
        lines.append("}")
    elif isinstance(descriptor, d.MethodDescriptor):
        lines = [f"{name} is a method:", _method_line(descriptor)]
    elif isinstance(descriptor, d.Descriptor):
        lines = [f"{name} is a message:"] + _describe_message(descriptor)
    elif isinstance(descriptor, d.EnumDescriptor):
        lines = [f"{name} is an enum:"] + _describe_enum(descriptor)
    elif isinstance(descriptor, d.FieldDescriptor):
        proto3 = descriptor.containing_type is not None and descriptor.file.syntax == "proto3"
        lines = [f"{name} is a field:", _field_line(descriptor, proto3)]
    elif isinstance(descriptor, d.EnumValueDescriptor):
        name = f"{descriptor.type.full_name}.{descriptor.name}"
        lines = [f"{name} is an enum value:", f"{descriptor.name} = {descriptor.number};"]
    else:
        lines = [f"{name} is a {type(descriptor).__name__}"]
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Command line.


def _parse_args(argv):
    opts = {
        "plaintext": False,
        "cacert": None,
        "cert": None,
        "key": None,
        "servername": None,
        "data": None,
        "headers": [],
        "max_time": None,
        "connect_timeout": 10.0,
        "emit_defaults": False,
        "keep_proto_names": False,
        "verbose": False,
    }
    with_value = {
        "d": "data",
        "H": "headers",
        "cacert": "cacert",
        "cert": "cert",
        "key": "key",
        "servername": "servername",
        "max-time": "max_time",
        "connect-timeout": "connect_timeout",
    }
    booleans = {
        "plaintext": "plaintext",
        "emit-defaults": "emit_defaults",
        "keep-proto-names": "keep_proto_names",
        "v": "verbose",
    }
    args = list(argv)
    positional = []
    while args:
        arg = args.pop(0)
        if arg == "--":
            positional += args
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            positional += args  # like Go's flag package: flags end at the first operand
            break
        name, eq, value = arg.lstrip("-").partition("=")
        if name in ("h", "help"):
            raise UsageError(None)
        if name in booleans:
            if eq and value not in ("true", "false"):
                raise UsageError(f"invalid boolean value {value!r} for -{name}")
            opts[booleans[name]] = (value != "false") if eq else True
        elif name in with_value:
            if not eq:
                if not args:
                    raise UsageError(f"flag needs an argument: -{name}")
                value = args.pop(0)
            key = with_value[name]
            if key == "headers":
                opts["headers"].append(value)
            elif key in ("max_time", "connect_timeout"):
                try:
                    opts[key] = float(value)
                except ValueError as e:
                    raise UsageError(f"invalid value {value!r} for -{name}") from e
            else:
                opts[key] = value
        else:
            raise UsageError(f"flag provided but not defined: -{name}")
    if not positional:
        raise UsageError("Too few arguments.")
    return opts, positional


def _metadata(headers):
    md = []
    for header in headers:
        key, sep, value = header.partition(":")
        if not sep:
            raise UsageError(f"invalid header {header!r}: expected 'key: value'")
        key = key.strip().lower()
        value = value.strip()
        if key.endswith("-bin"):
            try:
                md.append((key, base64.b64decode(value + "=" * (-len(value) % 4))))
            except ValueError as e:
                raise UsageError(f"header {key}: value is not base64") from e
        else:
            md.append((key, value))
    return tuple(md)


def _channel(addr, opts):
    if opts["plaintext"]:
        channel = grpc.insecure_channel(addr)
    else:
        def read(path):
            if path is None:
                return None
            with open(path, "rb") as f:
                return f.read()

        creds = grpc.ssl_channel_credentials(
            root_certificates=read(opts["cacert"]),
            private_key=read(opts["key"]),
            certificate_chain=read(opts["cert"]),
        )
        options = []
        if opts["servername"]:
            options.append(("grpc.ssl_target_name_override", opts["servername"]))
        channel = grpc.secure_channel(addr, creds, options=options)
    try:
        grpc.channel_ready_future(channel).result(timeout=opts["connect_timeout"])
    except grpc.FutureTimeoutError as e:
        channel.close()
        raise ClientError(f'Failed to dial target host "{addr}": context deadline exceeded') from e
    return channel


def _read_requests(data):
    """The JSON request messages given with -d: one or more objects."""
    if data is None:
        return ["{}"]
    if data == "@":
        data = sys.stdin.read()
    decoder = json.JSONDecoder()
    texts, pos = [], 0
    while True:
        while pos < len(data) and data[pos].isspace():
            pos += 1
        if pos >= len(data):
            break
        try:
            _, end = decoder.raw_decode(data, pos)
        except json.JSONDecodeError as e:
            raise ClientError(f"Error invoking method: failed to parse request data: {e}") from e
        texts.append(data[pos:end])
        pos = end
    return texts or ["{}"]


def _to_json(message, pool, emit_defaults, keep_proto_names=False):
    return json_format.MessageToJson(
        message,
        including_default_value_fields=emit_defaults,
        preserving_proto_field_name=keep_proto_names,
        indent=2,
        descriptor_pool=pool,
    )


def _print_metadata(title, md):
    print(f"\n{title}:")
    for key, value in md or ():
        if isinstance(value, bytes):
            value = base64.b64encode(value).decode()
        print(f"{key}: {value}")


def _format_error(err, reflection, emit_defaults):
    """grpcurl's error block; details decoded from grpc-status-details-bin."""
    code = err.code()
    name = "".join(part.capitalize() for part in code.name.split("_"))
    name = {"Ok": "OK"}.get(name, name)
    lines = ["ERROR:", f"  Code: {name}", f"  Message: {err.details() or ''}"]
    raw = None
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            raw = value
    if raw:
        status = google_rpc_status_class().FromString(raw)
        if status.details:
            lines.append("  Details:")
        for i, detail in enumerate(status.details, 1):
            type_name = detail.type_url.rpartition("/")[2]
            text = None
            if reflection is not None:
                try:
                    cls = reflection.message_class(reflection.find_symbol(type_name))
                    decoded = cls.FromString(detail.value)
                    body = json.loads(_to_json(decoded, reflection.pool, emit_defaults))
                    text = json.dumps({"@type": detail.type_url, **body}, indent=2)
                except (LookupError, ClientError, grpc.RpcError):
                    text = None
            if text is None:
                text = json.dumps(
                    {"@type": detail.type_url, "value": base64.b64encode(detail.value).decode()}, indent=2
                )
            body_lines = text.splitlines()
            lines.append(f"  {i})\t{body_lines[0]}")
            lines += [f"    \t{line}" for line in body_lines[1:]]
    return "\n".join(lines)


def _status_code_value(code):
    return code.value[0]


def cmd_list(reflection, service):
    if service is None:
        try:
            names = reflection.list_services()
        except ClientError as e:
            raise ClientError(f"Failed to list services: {e}") from e
        for name in names:
            print(name)
        return 0
    try:
        descriptor = reflection.find_symbol(service)
    except LookupError as e:
        raise ClientError(f"Failed to list methods for service \"{service}\": Service not found: {service}") from e
    if not hasattr(descriptor, "methods"):
        raise ClientError(f"Failed to list methods for service \"{service}\": \"{service}\" is not a service")
    for method in descriptor.methods:
        print(method.full_name)
    return 0


def cmd_describe(reflection, symbol):
    symbols = [symbol] if symbol else reflection.list_services()
    for sym in symbols:
        try:
            descriptor = reflection.find_symbol(sym)
        except LookupError as e:
            raise ClientError(f'Failed to resolve symbol "{sym}": Symbol not found: {sym}') from e
        print(describe(descriptor))
    return 0


def cmd_call(channel, reflection, target, opts, md):
    service, sep, method_name = target.replace("/", ".").rpartition(".")
    if not sep or not service:
        raise ClientError(f'Error invoking method "{target}": given method name "{target}" is not in expected format: "service/method" or "service.method"')
    try:
        service_desc = reflection.find_symbol(service)
    except LookupError as e:
        raise ClientError(f'Error invoking method "{target}": target server does not expose service "{service}"') from e
    method = getattr(service_desc, "methods_by_name", {}).get(method_name)
    if method is None:
        raise ClientError(f'Error invoking method "{target}": service "{service}" does not include a method named "{method_name}"')
    proto = descriptor_pb2.MethodDescriptorProto()
    method.CopyToProto(proto)
    if proto.client_streaming:
        raise ClientError(f'Error invoking method "{target}": client-streaming methods are not supported by grpcurl.py')
    request_cls = reflection.message_class(method.input_type)
    response_cls = reflection.message_class(method.output_type)
    texts = _read_requests(opts["data"])
    if len(texts) != 1:
        raise ClientError(f'Error invoking method "{target}": method takes one request message, got {len(texts)}')
    request = request_cls()
    try:
        json_format.Parse(texts[0], request, descriptor_pool=reflection.pool)
    except json_format.ParseError as e:
        raise ClientError(f'Error invoking method "{target}": failed to parse request data: {e}') from e
    path = f"/{service_desc.full_name}/{method.name}"
    kwargs = dict(
        request_serializer=request_cls.SerializeToString,
        response_deserializer=response_cls.FromString,
    )
    try:
        if proto.server_streaming:
            call = channel.unary_stream(path, **kwargs)(request, metadata=md, timeout=opts["max_time"])
            first = True
            for response in call:
                if opts["verbose"] and first:
                    _print_metadata("Response headers received", call.initial_metadata())
                if not first:
                    print()
                print(_to_json(response, reflection.pool, opts["emit_defaults"], opts["keep_proto_names"]))
                first = False
            if opts["verbose"]:
                _print_metadata("Response trailers received", call.trailing_metadata())
        else:
            response, call = channel.unary_unary(path, **kwargs).with_call(
                request, metadata=md, timeout=opts["max_time"]
            )
            if opts["verbose"]:
                _print_metadata("Response headers received", call.initial_metadata())
                print("\nResponse contents:")
            print(_to_json(response, reflection.pool, opts["emit_defaults"], opts["keep_proto_names"]))
            if opts["verbose"]:
                _print_metadata("Response trailers received", call.trailing_metadata())
    except grpc.RpcError as err:
        if opts["verbose"]:
            _print_metadata("Response trailers received", err.trailing_metadata())
        print(_format_error(err, reflection, opts["emit_defaults"]), file=sys.stderr)
        return STATUS_CODE_OFFSET + _status_code_value(err.code())
    return 0


def cmd_health(channel, service, opts, md):
    _, health_pb2, health_pb2_grpc = own_stubs()
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        response = stub.Check(
            health_pb2.HealthCheckRequest(service=service or ""), metadata=md, timeout=opts["max_time"]
        )
    except grpc.RpcError as err:
        print(_format_error(err, None, False), file=sys.stderr)
        return STATUS_CODE_OFFSET + _status_code_value(err.code())
    print(json_format.MessageToJson(response, including_default_value_fields=True, indent=2))
    serving = health_pb2.HealthCheckResponse.SERVING
    return 0 if response.status == serving else 1


# The commands and flags paragraphs of the module docstring.
USAGE = __doc__[__doc__.index("  grpcurl.py [flags]") : __doc__.index("Like grpcurl, calls")].rstrip()


def main(argv):
    try:
        opts, positional = _parse_args(argv)
        addr, rest = positional[0], positional[1:]
        if not rest:
            raise UsageError("Too few arguments.")
        verb = rest[0]
        md = _metadata(opts["headers"])
        if verb in ("list", "describe", "health"):
            if len(rest) > 2:
                raise UsageError(f"Too many arguments for {verb}.")
            if opts["data"] is not None:
                raise UsageError(f"The -d argument is not used with '{verb}' verb.")
        elif len(rest) > 1:
            raise UsageError("Too many arguments.")
        channel = _channel(addr, opts)
        try:
            arg = rest[1] if len(rest) > 1 else None
            if verb == "health":
                return cmd_health(channel, arg, opts, md)
            reflection = ReflectionClient(channel, md, opts["max_time"])
            if verb == "list":
                return cmd_list(reflection, arg)
            if verb == "describe":
                return cmd_describe(reflection, arg)
            return cmd_call(channel, reflection, verb, opts, md)
        finally:
            channel.close()
    except UsageError as e:
        if e.args and e.args[0]:
            print(e.args[0], file=sys.stderr)
        print("Usage:\n" + USAGE, file=sys.stderr)
        return 2
    except ClientError as e:
        print(e, file=sys.stderr)
        return 1
    except grpc.RpcError as e:
        # A failed reflection call, not the method's own status.
        print(f"Failed to use server reflection: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
