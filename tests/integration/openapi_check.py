#!/usr/bin/env python3
"""openapi_check.py — checks docs/openapi.yaml, and checks it against the
code: the Task API's route table (ROUTES in src/api/task_api.c), the other
routes (src/api/routes.c) and the error codes the server sends.

- The file is OpenAPI 3.0.x with info and paths; every $ref resolves.
- Every route of ROUTES, (method, /v1/users/{user}/<shape>, "*" an id), is
  an operation of the spec whose only 2xx answer is the route's ok_status;
  the spec has no operation under /v1/users/ that ROUTES lacks.
- Per route: the ETag header on the success answer exactly when the route
  sends it, Location on every 201, the query parameters the route accepts
  (no more, no fewer), every path parameter with the id pattern ({task}:
  an id, or owner:id).
- Every Task API operation lists 400 and the statuses error_for() gives any
  route (busy, timeout, store, stopping, internal), with Retry-After where
  the code sends it.
- GET of every path routes.c serves itself (health, metrics) is in the spec.
- Error.errorCode's enum is exactly the ERR_* codes in src/api and src/http.

Usage: openapi_check.py [REPO_ROOT]   (default: two directories above this
script). Exits 0 when everything matches, else 1 with the mismatches.
"""
import os
import re
import sys

try:
    import yaml
except ImportError:
    sys.exit("openapi_check.py needs the Python yaml module: install "
             "python3-yaml (Debian/Ubuntu: apt-get install python3-yaml; "
             "or pip install pyyaml)")

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options",
                "trace")
TASK_API_PREFIX = "/v1/users/"

problems = []


def problem(msg):
    problems.append(msg)


# ---- C source ----

def strip_c_comments(src):
    """src without its comments; string and character literals stay whole
    (shapes such as "tasks/*/log" hold "/*")."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c in "\"'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching(src, start, open_ch="{", close_ch="}"):
    """Index of the bracket closing the one at start (skipping literals)."""
    depth = 0
    i = start
    while i < len(src):
        c = src[i]
        if c in "\"'":
            j = i + 1
            while j < len(src) and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            i = j + 1
            continue
        if c == open_ch:
            depth += 1
        elif c == close_ch:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError("unbalanced %s" % open_ch)


def split_top(src, sep=","):
    """Splits on sep outside brackets and literals."""
    parts, depth, cur, i = [], 0, [], 0
    while i < len(src):
        c = src[i]
        if c in "\"'":
            j = i + 1
            while j < len(src) and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            cur.append(src[i:j + 1])
            i = j + 1
            continue
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        if c == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def c_value(text):
    text = text.strip()
    m = re.fullmatch(r'"((?:[^"\\]|\\.)*)"', text)
    if m:
        return m.group(1).encode().decode("unicode_escape")
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    return text  # an identifier, a character literal, ...


def read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        problem("cannot read %s: %s" % (path, e))
        return None


def parse_routes(src):
    """The ROUTES table as dicts keyed by struct route's field names, the
    query lists by name, and ID_MAX."""
    src = strip_c_comments(src)
    m = re.search(r"typedef\s+struct\s+route\s*\{", src)
    if not m:
        raise ValueError("no `typedef struct route {` in task_api.c")
    body = src[m.end():matching(src, m.end() - 1)]
    fields = []
    for decl in body.split(";"):
        names = re.findall(r"[A-Za-z_]\w*", decl)
        if names:
            fields.append(names[-1])
    for need in ("label", "method", "shape", "ok_status"):
        if need not in fields:
            raise ValueError("struct route has no field %r (fields: %s)"
                             % (need, ", ".join(fields)))

    queries = {}
    for qm in re.finditer(
            r"static\s+const\s+char\s*\*\s*const\s+(\w+)\s*\[\s*\]\s*=\s*\{",
            src):
        end = matching(src, qm.end() - 1)
        queries[qm.group(1)] = [v for v in map(c_value,
                                               split_top(src[qm.end():end]))
                                if isinstance(v, str) and v != "NULL"]

    m = re.search(r"\bROUTES\s*\[\s*\]\s*=\s*\{", src)
    if not m:
        raise ValueError("no `ROUTES[] = {` in task_api.c")
    table = src[m.end():matching(src, m.end() - 1)]
    routes = []
    for entry in split_top(table):
        if not entry.startswith("{"):
            raise ValueError("unexpected ROUTES entry: %s" % entry[:60])
        items = split_top(entry[1:matching(entry, 0)])
        route = {}
        for pos, item in enumerate(items):
            dm = re.match(r"\.(\w+)\s*=\s*(.*)", item, re.S)
            if dm:
                route[dm.group(1)] = c_value(dm.group(2))
            elif pos < len(fields):
                route[fields[pos]] = c_value(item)
        routes.append(route)
    if not routes:
        raise ValueError("ROUTES is empty")

    id_max = re.search(r"\bID_MAX\s*=\s*(\d+)", src)
    return routes, queries, int(id_max.group(1)) if id_max else None


def parse_error_for(src):
    """{VA_E* case: (status, sends Retry-After)} from error_for()."""
    src = strip_c_comments(src)
    m = re.search(r"static\s+void\s+error_for\s*\([^)]*\)\s*\{", src)
    if not m:
        raise ValueError("no error_for() in task_api.c")
    body = src[m.end():matching(src, m.end() - 1)]
    cases = {}
    for cm in re.finditer(r"(case\s+(\w+)|default)\s*:(.*?)(?=case\s+\w+\s*:|"
                          r"default\s*:|$)", body, re.S):
        name = cm.group(2) or "default"
        statuses = re.findall(r"va_http_error\s*\(\s*\w+\s*,\s*(\d+)",
                              cm.group(3))
        if statuses:
            cases[name] = (int(statuses[0]),
                           '"Retry-After"' in cm.group(3))
    return cases


# ---- The spec ----

def pointer(doc, ref):
    node = doc
    for part in ref[2:].split("/") if ref != "#" else []:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and \
                int(part) < len(node):
            node = node[int(part)]
        else:
            return None, False
    return node, True


def check_refs(doc, node, where="#"):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None:
            if not isinstance(ref, str) or not ref.startswith("#"):
                problem("%s: $ref %r is not a reference into this file"
                        % (where, ref))
            elif not pointer(doc, ref)[1]:
                problem("%s: $ref %r does not resolve" % (where, ref))
        for k, v in node.items():
            key = str(k).replace("~", "~0").replace("/", "~1")
            check_refs(doc, v, "%s/%s" % (where, key))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            check_refs(doc, v, "%s/%d" % (where, i))


def deref(doc, node, depth=0):
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) \
            and depth < 20:
        target, ok = pointer(doc, node["$ref"])
        if not ok:
            return {}
        node, depth = target, depth + 1
    return node if isinstance(node, dict) else {}


def operations(spec):
    """{(METHOD, path): (operation, path item)}."""
    ops = {}
    for path, item in (spec.get("paths") or {}).items():
        if not isinstance(item, dict):
            problem("paths[%r] is not an object" % path)
            continue
        for method in HTTP_METHODS:
            if isinstance(item.get(method), dict):
                ops[(method.upper(), path)] = (item[method], item)
    return ops


def params_of(spec, op, item):
    """The parameters of an operation (path-level ones included, the
    operation's overriding), as {(in, name): parameter}."""
    out = {}
    for src in (item.get("parameters") or [], op.get("parameters") or []):
        for p in src:
            p = deref(spec, p)
            if "name" in p and "in" in p:
                out[(p["in"], p["name"])] = p
    return out


def normalize(path):
    return re.sub(r"\{[^}/]+\}", "*", path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.normpath(os.path.join(here, "..", ".."))
    spec_path = os.path.join(root, "docs", "openapi.yaml")

    text = read(spec_path)
    if text is None:
        return report()
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as e:
        problem("%s is not YAML: %s" % (spec_path, e))
        return report()
    if not isinstance(spec, dict):
        problem("%s is not a YAML mapping" % spec_path)
        return report()

    # The file itself.
    if not re.fullmatch(r"3\.0\.\d+", str(spec.get("openapi", ""))):
        problem("openapi is %r, not 3.0.x" % spec.get("openapi"))
    info = spec.get("info")
    if not isinstance(info, dict) or not info.get("title") or \
            not info.get("version"):
        problem("info with title and version is missing")
    if not isinstance(spec.get("paths"), dict) or not spec["paths"]:
        problem("paths is missing or empty")
        return report()
    check_refs(spec, spec)
    ops = operations(spec)

    # The route table.
    api_src = read(os.path.join(root, "src", "api", "task_api.c"))
    if api_src is None:
        return report()
    try:
        routes, queries, id_max = parse_routes(api_src)
        error_cases = parse_error_for(api_src)
    except ValueError as e:
        problem("src/api/task_api.c: %s" % e)
        return report()
    id_pattern = "^[A-Za-z0-9._~-]{1,%d}$" % (id_max or 128)
    # A task in a path may name its owner too (owner:task).
    id_chars = "[A-Za-z0-9._~-]{1,%d}" % (id_max or 128)
    task_pattern = "^(%s:)?%s$" % (id_chars, id_chars)

    spec_task_ops = {}
    for (method, path), v in ops.items():
        if path.startswith(TASK_API_PREFIX):
            spec_task_ops[(method, normalize(path))] = (path, v)

    seen = set()
    for rt in routes:
        method = str(rt.get("method", "")).upper()
        shape = str(rt.get("shape", ""))
        key = (method, TASK_API_PREFIX + "*/" + shape)
        shown = "%s /v1/users/{user}/%s (%s)" % (method, shape,
                                                 rt.get("label"))
        if key in seen:
            problem("%s: twice in ROUTES" % shown)
        seen.add(key)
        if key not in spec_task_ops:
            problem("%s: in ROUTES, not in the spec" % shown)
            continue
        path, (op, item) = spec_task_ops[key]
        responses = op.get("responses") or {}
        ok = sorted(str(s) for s in responses if str(s).startswith("2"))
        want = str(rt.get("ok_status"))
        if ok != [want]:
            problem("%s: the code answers %s, the spec %s"
                    % (shown, want, ", ".join(ok) or "no 2xx"))
        success = deref(spec, responses.get(want) or
                        responses.get(int(want)) or {})
        headers = {h.lower() for h in (success.get("headers") or {})}
        if "etag" in rt and bool(rt["etag"]) != ("etag" in headers):
            problem("%s: the code %s ETag, the spec %s" % (
                shown, "sends" if rt["etag"] else "does not send",
                "has it" if "etag" in headers else "does not"))
        if want == "201" and "location" not in headers:
            problem("%s: the code sends Location with 201, the spec does "
                    "not" % shown)
        params = params_of(spec, op, item)
        if "query" in rt:
            code_q = set(queries.get(rt["query"], [])) \
                if isinstance(rt["query"], str) else set()
            if isinstance(rt["query"], str) and rt["query"] not in queries:
                problem("%s: query list %s not found in task_api.c"
                        % (shown, rt["query"]))
            spec_q = {n for (where, n) in params if where == "query"}
            if code_q != spec_q:
                problem("%s: query parameters: code %s, spec %s" % (
                    shown, sorted(code_q), sorted(spec_q)))
        for name in re.findall(r"\{([^}/]+)\}", path):
            p = params.get(("path", name))
            if not p:
                problem("%s: path parameter {%s} is not declared"
                        % (path, name))
                continue
            pattern = (deref(spec, p.get("schema") or {})).get("pattern")
            want = task_pattern if name == "task" else id_pattern
            if not p.get("required") or pattern != want:
                problem("%s: {%s} must be required with pattern %s"
                        % (path, name, want))
        # What any route can answer.
        must = {"400": False}
        for case, (status, retry) in error_cases.items():
            if case in ("VA_EBACKPRESSURE", "VA_ETIMEDOUT", "VA_ESTORE",
                        "VA_ESTOPPED", "default"):
                must[str(status)] = must.get(str(status), False) or retry
        for status, retry in sorted(must.items()):
            r = responses.get(status) or responses.get(int(status))
            if r is None:
                problem("%s: no %s answer in the spec" % (shown, status))
                continue
            r = deref(spec, r)
            schema = (((r.get("content") or {}).get("application/json") or
                       {}).get("schema") or {})
            if schema.get("$ref") != "#/components/schemas/Error":
                problem("%s: the %s answer is not an Error" % (shown,
                                                              status))
            if retry and "retry-after" not in \
                    {h.lower() for h in (r.get("headers") or {})}:
                problem("%s: the %s answer lacks Retry-After" % (shown,
                                                                status))

    for key, (path, _) in sorted(spec_task_ops.items()):
        if key not in seen:
            problem("%s %s: in the spec, not in ROUTES" % (key[0], path))

    # The routes routes.c serves itself.
    routes_src = read(os.path.join(root, "src", "api", "routes.c"))
    if routes_src is not None:
        own = re.findall(r'strcmp\s*\(\s*req->path\s*,\s*"([^"]+)"\s*\)',
                         strip_c_comments(routes_src))
        if not own:
            problem("src/api/routes.c: no `strcmp(req->path, \"...\")` "
                    "found")
        for p in own:
            if ("GET", p) not in ops:
                problem("GET %s: served by routes.c, not in the spec" % p)

    # Error codes (the Dapr API's, in dapr_api.c, are Dapr's own and are
    # described in docs/dapr.md, not in this spec).
    codes = set()
    for sub in ("api", "http"):
        d = os.path.join(root, "src", sub)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if name.endswith(".c") and not name.startswith("dapr_"):
                s = read(os.path.join(d, name)) or ""
                codes |= set(re.findall(r'\\?"(ERR_[A-Z0-9_]+)\\?"',
                                        strip_c_comments(s)))
    err = deref(spec, ((spec.get("components") or {}).get("schemas") or
                       {}).get("Error") or {})
    props = err.get("properties") or {}
    if not {"errorCode", "message"} <= set(props):
        problem("components.schemas.Error lacks errorCode or message")
    enum = (props.get("errorCode") or {}).get("enum")
    if enum is not None:
        for c in sorted(codes - set(enum)):
            problem("error code %s: sent by the code, not in Error's enum"
                    % c)
        for c in sorted(set(enum) - codes):
            problem("error code %s: in Error's enum, not sent by the code"
                    % c)

    return report(len(routes), len(ops))


def report(n_routes=0, n_ops=0):
    if problems:
        print("openapi_check: %d mismatch(es):" % len(problems))
        for p in problems:
            print("  - " + p)
        return 1
    print("openapi_check: ok: %d routes of ROUTES match the spec (%d "
          "operations in all); every $ref resolves" % (n_routes, n_ops))
    return 0


if __name__ == "__main__":
    sys.exit(main())
