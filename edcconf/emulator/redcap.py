"""A REDCap API *emulator* (it is not REDCap) served on 127.0.0.1, for tests and demos.

It answers the API methods edcconf's ``redcap`` provider uses -- ``version``,
``project``, ``user``, ``userRole``, ``userRoleMapping``, ``dag``,
``userDagMapping`` -- with one token per project, form-encoded (or multipart)
POSTs to ``/api/`` and REDCap's error conventions::

    from edcconf.emulator.redcap import RedcapEmulator
    with RedcapEmulator(version="14.5.0") as emu:
        token = emu.add_project(project_id=12, title="T2D registry",
                                forms=["demographics", "hba1c"], dags=[("mgh", "MGH")])
        Project(emu.url, token).export_users()

Protocol facts and their sources:

* Bad or missing token: HTTP 403, ``{"error":"You do not have permissions to use
  the API"}`` in JSON and ``ERROR: You do not have permissions to use the API``
  in CSV (REDCapR ``tests/testthat/test-users-export.R`` "bad token -Error",
  status 403 and that raw text; the JSON form is quoted by several public REDCap
  clients).
* Errors are answered in ``returnFormat`` if given, else ``format``; JSON
  ``{"error": ...}``, CSV ``ERROR: ...`` and XML ``<error>`` -- exactly what
  PyCap's ``redcap/request.py`` tests for (``"error" in content.keys()``,
  ``startswith("error:")``, ``"<error>" in content``).  Other errors are 400.
* Unknown ``content``: 400 ``The value of the parameter "content" is not valid``;
  unknown ``action``: 400 ``The value of the parameter "action" is not valid``;
  ``action`` defaults to ``export`` and becomes ``import`` when ``data`` is sent
  for user/userRole/userRoleMapping (REDCap's ``api/index.php`` as published in
  public repositories).
* Imports and deletes answer the count (JSON: the bare number, which PyCap's
  ``import_users`` returns as ``1``); ``content=version`` answers plain text
  (PyCap ``export_version`` parses it with ``semantic_version``).

Deviations: REDCap's default format is XML; the emulator defaults to JSON and
answers XML data requests with an error (XML errors are still served).  Every
known difference from REDCap is listed in docs/emulator.md.
"""

from __future__ import annotations

import csv
import email.parser
import email.policy
import io
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from .redcap_model import ApiError, Project
from .redcap_store import Store
from .server_sim import TOO_MANY, FailRule, ServerSim

__all__ = ["ApiError", "RedcapEmulator", "main", "parse_project_spec"]

CONTENTS = {"version", "project", "user", "userRole", "userRoleMapping", "dag", "userDagMapping"}
ACTIONS = {"export", "import", "delete"}


# -- request decoding ---------------------------------------------------------------
def parse_form(content_type: str, body: bytes) -> dict[str, str]:
    """Form fields of a urlencoded or multipart body (last value wins, as PHP)."""
    if content_type.lower().startswith("multipart/"):
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        fields: dict[str, str] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name is None:
                continue
            assert isinstance(name, str)  # the HTTP policy decodes an RFC 2231 value: no (charset, lang, value)
            payload = part.get_payload(decode=True) or b""
            assert isinstance(payload, bytes)  # a leaf part's decoded body
            fields[name] = payload.decode(part.get_content_charset() or "utf-8")
        return fields
    parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    return {k: v[-1] for k, v in parsed.items()}


def indexed_list(fields: dict[str, str], name: str) -> list[str]:
    """``users[0]=a&users[1]=b`` (PyCap's encoding) or ``users[]=..`` -> ['a', 'b']."""
    items: list[tuple[int, str]] = []
    for key, value in fields.items():
        m = re.fullmatch(re.escape(name) + r"\[(\d*)\]", key)
        if m:
            items.append((int(m.group(1)) if m.group(1) else len(items), value))
    return [v for _, v in sorted(items)]


def decode_rows(fmt: str, data: str) -> list[dict]:
    if fmt == "csv":
        return [dict(row) for row in csv.DictReader(io.StringIO(data))]
    if fmt == "json":
        try:
            rows = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ApiError(f"The data being imported is not valid JSON: {exc.msg}") from None
        if isinstance(rows, dict):
            rows = [rows]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ApiError("The data being imported must be a JSON array of objects")
        return rows
    raise ApiError(f'The format "{fmt}" is not supported by this emulator (use json or csv)')


# -- response encoding ---------------------------------------------------------------
def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}:{v}" for k, v in value.items())
    return "" if value is None else str(value)


def encode_rows(fmt: str, rows: list[dict], columns: list[str]) -> tuple[str, str]:
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
        return buf.getvalue(), "text/csv; charset=utf-8"
    if fmt == "json":
        return json.dumps(rows), "application/json; charset=utf-8"
    raise ApiError(f'The format "{fmt}" is not supported by this emulator (use json or csv)')


def encode_error(fmt: str, message: str) -> tuple[str, str]:
    if fmt == "csv":
        return f"ERROR: {message}", "text/csv; charset=utf-8"
    if fmt == "xml":
        text = message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return (
            f'<?xml version="1.0" encoding="UTF-8" ?>\n<hash>\n  <error>{text}</error>\n</hash>',
            "text/xml; charset=utf-8",
        )
    return json.dumps({"error": message}, separators=(",", ":")), "application/json; charset=utf-8"


def encode_count(fmt: str, count: int) -> tuple[str, str]:
    if fmt == "json":
        return json.dumps(count), "application/json; charset=utf-8"
    if fmt == "xml":
        return str(count), "text/xml; charset=utf-8"
    return str(count), "text/csv; charset=utf-8"


# -- dispatch --------------------------------------------------------------------------
def handle_api(store: Store, fields: dict[str, str]) -> tuple[int, str, str]:
    fmt = (fields.get("format") or "json").lower()
    return_fmt = (fields.get("returnFormat") or fmt).lower()
    if return_fmt not in ("json", "csv", "xml"):
        return_fmt = "json"
    try:
        proj = store.project_for_token(fields.get("token", ""))
        content = fields.get("content", "")
        if content not in CONTENTS:
            raise ApiError('The value of the parameter "content" is not valid')
        action = fields.get("action") or "export"
        if content in ("user", "userRole", "userRoleMapping") and action != "delete" and "data" in fields:
            action = "import"
        if (
            action not in ACTIONS
            or (action == "delete" and content not in ("user", "userRole", "dag"))
            or (action == "import" and content in ("version", "project"))
        ):
            raise ApiError('The value of the parameter "action" is not valid')
        if content == "version":
            return 200, store.version, "text/html; charset=utf-8"
        if action == "export":
            return (200, *_export(store, proj, content, fmt))
        if action == "delete":
            key = {"user": "users", "userRole": "roles", "dag": "dags"}[content]
            method = {"user": store.delete_users, "userRole": store.delete_roles, "dag": store.delete_dags}[content]
            return (200, *encode_count(return_fmt, method(proj, indexed_list(fields, key))))
        if "data" not in fields:
            raise ApiError('The parameter "data" is missing')
        rows = decode_rows(fmt, fields["data"])
        importer = {
            "user": store.import_users,
            "userRole": store.import_roles,
            "userRoleMapping": store.import_role_mapping,
            "dag": store.import_dags,
            "userDagMapping": store.import_dag_mapping,
        }[content]
        return (200, *encode_count(return_fmt, importer(proj, rows)))
    except ApiError as err:
        return (err.status, *encode_error(return_fmt, err.message))


def _export(store: Store, proj: Project, content: str, fmt: str) -> tuple[str, str]:
    if content == "project":
        info = store.export_project(proj)
        if fmt == "json":
            return json.dumps(info), "application/json; charset=utf-8"
        return encode_rows(fmt, [info], list(info))
    table = {
        "user": (store.export_users, proj.user_fields),
        "userRole": (store.export_roles, proj.role_fields),
        "userRoleMapping": (store.export_role_mapping, ["username", "unique_role_name", "data_access_group"]),
        "dag": (store.export_dags, ["data_access_group_name", "unique_group_name", "data_access_group_id"]),
        "userDagMapping": (store.export_dag_mapping, ["username", "redcap_data_access_group"]),
    }
    method, columns = table[content]
    return encode_rows(fmt, method(proj), columns)


# -- server ----------------------------------------------------------------------------
LOST = (0, "", "")  # _answer's value for a request whose answer is lost (lose_next)


class _Handler(BaseHTTPRequestHandler):
    server_version = "edcconf-redcap-emulator"
    emulator: RedcapEmulator
    # headers and body go out in two writes: with Nagle's algorithm the body waited for the client's
    # delayed ACK (40 ms on Linux), a latency of its own added to every answer
    disable_nagle_algorithm = True

    def log_message(self, format, *args):
        pass

    def _send(self, status: int, body: str, ctype: str) -> None:
        data = body.encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for name, value in self.emulator.sim.headers_for(status).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. a timeout test with delay_next)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.split("?", 1)[0] != "/api/":
            self._send(404, "Not Found", "text/plain; charset=utf-8")
            return
        self._serve(lambda: parse_form(self.headers.get("Content-Type", ""), body))

    def do_GET(self):
        if self.path.split("?", 1)[0] != "/api/":
            self._send(404, "Not Found", "text/plain; charset=utf-8")
            return
        self._serve(dict)

    def _serve(self, read_fields) -> None:
        """One API request: refused at once above the concurrency cap (429), else answered no sooner
        than the latency after its arrival."""
        sim = self.emulator.sim
        due, admitted = sim.admit()
        if not admitted:
            self._send(429, TOO_MANY, "text/plain; charset=utf-8")
            return
        try:
            try:
                fields = read_fields()
            except (UnicodeDecodeError, ValueError):
                answer = (
                    400,
                    json.dumps({"error": "The request body could not be decoded"}),
                    "application/json; charset=utf-8",
                )
            else:
                answer = self.emulator._answer(fields)
            sim.wait_until(due)
            if answer is LOST:  # carried out; the answer never reaches the client
                self.close_connection = True
                return
            self._send(*answer)
        finally:
            sim.release()


class RedcapEmulator:
    """REDCap API emulator on 127.0.0.1 (not REDCap).  See the module docstring."""

    def __init__(
        self,
        version: str = "14.5.0",
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        latency_ms: float = 0,
        jitter_ms: float = 0,
        max_concurrent: int | None = None,
        retry_after: int = 1,
        seed: int = 20240514,
    ):
        self.version = version
        self.host = host
        self.port = port
        self.store = Store(version)
        self.sim = ServerSim(latency_ms, jitter_ms, max_concurrent, retry_after, seed)
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._lose = 0
        self._lose_action: str | None = None
        self._delays: list[float] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url: str | None = None

    # -- set-up --------------------------------------------------------------------
    def add_project(self, project_id: int, title: str, forms=(), dags=(), token: str | None = None) -> str:
        return self.store.add_project(project_id, title, forms, dags, token)

    def project(self, project_id: int) -> Project:
        return self.store.by_id[project_id]

    def fail_next(
        self,
        n: int,
        status: int = 503,
        body: str = "Service Unavailable",
        action: str | None = None,
        content: str | None = None,
        project: int | None = None,
    ) -> None:
        """The next n requests (with `action`, `content` or `project` (a project id): only those that match;
        the action is the one the request asks for, import when it sends data and export by default) are
        answered `status` with `body` and not carried out. A 429 carries Retry-After."""
        self.sim.add_rule(FailRule(status, body, remaining=n, action=action, content=content, project=project))

    def fail_rate(
        self,
        rate: float,
        status: int = 500,
        body: str = "Internal Server Error",
        action: str | None = None,
        content: str | None = None,
        project: int | None = None,
    ) -> None:
        """From now on, exactly `rate` (0 < rate <= 1) of the requests that match fail, spread evenly: with
        0.25 the 4th, 8th, 12th ... matching request is answered `status` and not carried out.
        clear_failures() ends it."""
        if not 0 < rate <= 1:
            raise ValueError("rate must be above 0 and at most 1")
        self.sim.add_rule(FailRule(status, body, rate=rate, action=action, content=content, project=project))

    def clear_failures(self) -> None:
        """Forget every fail_next and fail_rate still pending."""
        self.sim.clear_rules()

    @property
    def counts(self) -> dict[str, int]:
        """Requests received, rejected (429 by the cap), failed (injected), lost; peak and current in
        flight. reset_counts() starts them again (a benchmark does so per step)."""
        return self.sim.counts

    def reset_counts(self) -> None:
        self.sim.reset_counts()

    def lose_next(self, n: int, action: str | None = None) -> None:
        """The next n requests (with `action`, only those with that action: import, delete) are carried
        out, but their answers are lost (the connection is closed without a response), as when a network
        drops a reply: a client that retries sends them again."""
        with self._lock:
            self._lose += n
            self._lose_action = action

    def delay_next(self, n: int, seconds: float) -> None:
        with self._lock:
            self._delays.extend([seconds] * n)

    # -- serving -------------------------------------------------------------------
    def _answer(self, fields: dict[str, str]) -> tuple[int, str, str]:
        with self._lock:
            self.requests.append({k: v for k, v in fields.items() if k != "token"})
            delay = self._delays.pop(0) if self._delays else 0.0
        project = self.store.by_token.get(fields.get("token") or "")
        fail = self.sim.injected(fields, project.project_id if project else None)
        if delay:
            time.sleep(delay)
        if fail:
            return fail.status, fail.body, "text/plain; charset=utf-8"
        answer = handle_api(self.store, fields)
        with self._lock:
            if self._lose and self._lose_action in (None, fields.get("action")):
                self._lose -= 1
                self.sim.count_lost()
                return LOST
        return answer

    def start(self) -> str:
        if self._server is not None:
            assert self.url is not None  # set with _server
            return self.url
        handler = type("Handler", (_Handler,), {"emulator": self})
        server_class = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 128})
        self._server = server_class((self.host, self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://{self.host}:{self.port}/api/"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="redcap-emulator", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None  # set with _server
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> RedcapEmulator:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# -- command line (edcconf/emulator/redcap_cli.py) --------------------------------------
from .redcap_cli import main, parse_project_spec  # noqa: E402  (its main needs RedcapEmulator)

if __name__ == "__main__":
    sys.exit(main())
