#!/usr/bin/env python3
"""A stand-in for the Railway CLI, put first on PATH by xtask/tests/deploy_railway.rs.

It records every call (one JSON array of arguments per line in $FAKE_RAILWAY_DIR/calls.log)
and answers the way the real CLI does for the commands `cargo xtask deploy` uses: JSON on
stdout with --json, an error message on stderr and exit status 1 on failure. Its project lives
in $FAKE_RAILWAY_DIR/state.json. Scenarios are files in $FAKE_RAILWAY_DIR:
  logged_out                  whoami fails as when no one is logged in
  fail_up_<service>           the next deployment of <service> FAILED (build error); the file
                              holds how many deployments fail
  healthcheck_<service>       the next deployment of <service> FAILED on its health check
  stuck_<service>             the next deployment of <service> stays DEPLOYING (its health check
                              never passes while the caller waits)
"""
import json
import os
import sys

D = os.environ["FAKE_RAILWAY_DIR"]
ARGS = sys.argv[1:]
with open(os.path.join(D, "calls.log"), "a") as f:
    f.write(json.dumps(ARGS) + "\n")


def load():
    try:
        with open(os.path.join(D, "state.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return {"project": None, "services": {}, "deployments": {}, "counter": 0}


def save(s):
    with open(os.path.join(D, "state.json"), "w") as f:
        json.dump(s, f, indent=1)


def out(value):
    print(json.dumps(value))
    sys.exit(0)


def fail(message):
    sys.stderr.write(message + "\n")
    sys.exit(1)


def flag(name):
    if name in ARGS:
        i = ARGS.index(name)
        return ARGS[i + 1] if i + 1 < len(ARGS) else None
    return None


def scenario(name):
    p = os.path.join(D, name)
    if not os.path.exists(p):
        return False
    with open(p) as f:
        n = int(f.read().strip() or "1")
    if n <= 1:
        os.remove(p)
    else:
        with open(p, "w") as f:
            f.write(str(n - 1))
    return True


s = load()
cmd = ARGS[0] if ARGS else ""

if cmd == "--version":
    print("railway 4.11.0")
    sys.exit(0)
if os.path.exists(os.path.join(D, "logged_out")) and cmd != "--version":
    fail("Unauthorized. Please login with `railway login`")
if cmd == "whoami":
    out({"name": "Test User", "email": "test@example.com"})

if cmd in ("init", "link"):
    name = flag("--name") or flag("--project") or "pdfq"
    s["project"] = {"id": "proj-1", "name": name}
    save(s)
    out(s["project"])

if s["project"] is None:
    fail("No linked project found. Run railway link to connect to a project")


def service(name):
    if name not in s["services"]:
        fail(f"Service '{name}' not found")
    return s["services"][name]


if cmd == "status":
    p = dict(s["project"])
    p["environments"] = {"edges": [{"node": {"id": "env-1", "name": "production"}}]}
    p["services"] = {
        "edges": [{"node": {"id": v["id"], "name": k}} for k, v in s["services"].items()]
    }
    out(p)

if cmd == "add":
    if flag("--database") == "redis":
        s["services"]["Redis"] = {
            "id": "svc-redis",
            "variables": {
                "REDIS_URL": "redis://default:pw@redis.railway.internal:6379",
                "REDIS_PUBLIC_URL": os.environ.get("FAKE_REDIS_PUBLIC_URL", ""),
            },
            "config": {},
        }
        save(s)
        out({"id": "svc-redis", "name": "Redis"})
    name = flag("--service")
    s["services"][name] = {"id": "svc-" + name, "variables": {}, "config": {}}
    save(s)
    out({"id": "svc-" + name, "name": name})

if cmd == "variables":
    svc = service(flag("--service"))
    sets = [ARGS[i + 1] for i, a in enumerate(ARGS) if a == "--set"]
    if sets:
        for kv in sets:
            k, v = kv.split("=", 1)
            svc["variables"][k] = v
        save(s)
        out({"updated": len(sets)})
    out(svc["variables"])

if cmd == "environment":
    if ARGS[1] == "config":
        out({"services": {v["id"]: v["config"] for v in s["services"].values()}})
    if ARGS[1] == "edit":
        i = ARGS.index("--service-config")
        name, path, value = ARGS[i + 1], ARGS[i + 2], ARGS[i + 3]
        try:
            value = json.loads(value)
        except ValueError:
            pass
        node = service(name)["config"]
        keys = path.split(".")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
        save(s)
        out({"committed": True})

if cmd == "up":
    name = flag("--service")
    service(name)
    s["counter"] += 1
    dep = {"id": f"dep-{s['counter']}", "status": "SUCCESS", "log": "Build succeeded"}
    if scenario("fail_up_" + name):
        dep["status"] = "FAILED"
        dep["log"] = "error[E0425]: cannot find value `x` in this scope\nerror: could not compile"
    elif scenario("healthcheck_" + name):
        dep["status"] = "FAILED"
        dep["log"] = "Starting Healthcheck\nPath: /api/v1/health\nAttempt #1 failed with service unavailable\nHealthcheck failed!"
    elif scenario("stuck_" + name):
        dep["status"] = "DEPLOYING"
    elif name == "pdfq-api":
        # Railway runs the preDeployCommand (pdfctl migrate run) before the deployment goes live.
        s["migrated"] = True
    s["deployments"].setdefault(name, []).insert(0, dep)
    save(s)
    print(f"Uploading... Build Logs: https://railway.com/project/proj-1/service/svc-{name}?id={dep['id']}")
    sys.exit(0)

if cmd == "deployment" and ARGS[1] == "list":
    deps = s["deployments"].get(flag("--service"), [])
    out([{"id": d["id"], "status": d["status"], "createdAt": "2026-11-29T00:00:00Z"} for d in deps[:1]])

if cmd == "logs":
    name = flag("--service")
    if "--build" in ARGS:
        dep = next((d for d in s["deployments"].get(name, []) if d["id"] == ARGS[1]), None)
        for line in (dep or {"log": ""})["log"].splitlines():
            print(json.dumps({"message": line, "severity": "info"}))
        sys.exit(0)
    print(json.dumps({"message": f"{name} started", "severity": "info", "level": "INFO"}))
    sys.exit(0)

if cmd == "domain":
    out({"domain": os.environ.get("FAKE_DOMAIN", "pdfq-api-production.up.railway.app")})

if cmd == "run":
    i = ARGS.index("--")
    program = ARGS[i + 1:]
    if program[1:3] == ["migrate", "run"]:
        s["migrated"] = True
        save(s)
        print("1 migrations applied, none pending")
        sys.exit(0)
    if program[1:3] == ["migrate", "verify"]:
        if s.get("migrated"):
            print("schema matches the migrations")
            sys.exit(0)
        fail("pending migrations: 0001_init")

fail(f"fake railway: unknown command {ARGS}")
