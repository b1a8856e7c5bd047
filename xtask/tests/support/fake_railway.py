#!/usr/bin/env python3
"""A stand-in for the Railway CLI 5.43.1, put first on PATH by xtask/tests/deploy_railway.rs.

Every behaviour below was read from the CLI's published source, crate railwayapp 5.43.1
(git df3838bf117cfa332d0ea28e9d26405639a98b2b); each one cites the file and line it copies
(paths under src/). What the CLI does not decide (what Railway's backend does with a deployment
or a log line) is marked "backend" and says where it comes from.

Checked against the real 5.43.1 binary too: `cargo xtask railway-cli-check` passed every
command line of the deploy through it (all parsed; without a login each answered
"Unauthorized. Please login with `railway login`", and `up --json` the JSON error below).

It records every call (one JSON array of arguments per line in $FAKE_RAILWAY_DIR/calls.log, and
the standard input of `environment edit` in stdin.log) and keeps its account in
$FAKE_RAILWAY_DIR/state.json. Scenarios are files in $FAKE_RAILWAY_DIR:
  logged_out               every command fails as when no one is logged in
  version                  what `railway --version` prints (default "railway 5.43.1")
  workspaces               the account's workspaces, one name a line (default: one, "Acme")
  environments             the environments of a project `link` finds, one name a line
                           (default: one, "production")
  fail_up_<service>        the next deployment of <service> FAILED (build error); the file holds
                           how many deployments fail (the same for the three below)
  healthcheck_<service>    the next deployment of <service> FAILED on its health check
  stuck_<service>          the next deployment of <service> stays DEPLOYING
  statuses_<service>       the statuses the next deployment goes through, space-separated, one per
                           `deployment list` (the last one stays), e.g. "BUILDING NEEDS_APPROVAL"
  racing_<service>         a second, newer deployment (a push) is created right after the next
                           `up`; the file holds its statuses, e.g. "BUILDING FAILED"
  output_<service>         what the service writes, one line each "stdout TEXT" or "stderr TEXT"
"""
import json
import os
import sys

D = os.environ["FAKE_RAILWAY_DIR"]
ARGS = sys.argv[1:]
with open(os.path.join(D, "calls.log"), "a") as f:
    f.write(json.dumps(ARGS) + "\n")

VERSION = "5.43.1"

# Statuses from the GraphQL schema's DeploymentStatus enum (gql/schema.json:7723-7802).
STATUSES = ["BUILDING", "CRASHED", "DEPLOYING", "FAILED", "INITIALIZING", "NEEDS_APPROVAL",
            "QUEUED", "REMOVED", "REMOVING", "SKIPPED", "SLEEPING", "SUCCESS", "WAITING"]
# In progress as the CLI counts them (commands/output/service_summary.rs:316-325).
IN_PROGRESS = {"BUILDING", "DEPLOYING", "INITIALIZING", "QUEUED", "WAITING"}

# The settings `environment edit` keeps from a patch: serde drops every other key
# (controllers/config/environment.rs:187-229, #[serde(default)] without deny_unknown_fields).
DEPLOY_KEYS = ["startCommand", "preDeployCommand", "healthcheckPath", "healthcheckTimeout",
               "ipv6EgressEnabled", "numReplicas", "multiRegionConfig", "cronSchedule",
               "restartPolicyType", "restartPolicyMaxRetries", "sleepApplication",
               "registryCredentials", "limitOverride", "requiredMountPath", "overlapSeconds",
               "drainingSeconds"]
BUILD_KEYS = ["builder", "buildCommand", "buildEnvironment", "dockerfilePath", "watchPatterns",
              "nixpacksConfigPath", "nixpacksPlan", "nixpacksVersion", "railpackVersion"]
SOURCE_KEYS = ["image", "repo", "branch", "commitSha", "upstreamUrl", "rootDirectory",
               "checkSuites", "autoUpdates"]

# Each command's flags as clap declares them: name -> number of values (0: a switch).
# A flag not listed is a usage error, exit status 2 (main.rs:427-431).
COMMON = {"--service": 1, "-s": 1, "--environment": 1, "-e": 1, "--project": 1, "-p": 1,
          "--json": 0}
FLAGS = {
    # commands/whoami.rs:10-13
    ("whoami",): {"--json": 0},
    # commands/status.rs:36-48
    ("status",): {"--project": 1, "-p": 1, "--environment": 1, "-e": 1, "--json": 0},
    # commands/init.rs:15-27
    ("init",): {"--name": 1, "-n": 1, "--workspace": 1, "-w": 1, "--json": 0},
    # commands/link.rs:21-45
    ("link",): {"--environment": 1, "-e": 1, "--project": 1, "-p": 1, "--service": 1, "-s": 1,
                "--team": 1, "-t": 1, "--workspace": 1, "-w": 1, "--json": 0},
    # commands/add.rs:29-64
    ("add",): {"--database": 1, "-d": 1, "--service": 1, "-s": 1, "--repo": 1, "-r": 1,
               "--branch": 1, "--image": 1, "-i": 1, "--variables": 1, "-v": 1,
               "--verbose": 0, "--json": 0},
    # commands/variable.rs:19-53
    ("variables",): dict(COMMON, **{"--kv": 0, "-k": 0, "--set": 1, "--set-from-stdin": 1,
                                    "--skip-deploys": 0}),
    # commands/environment/mod.rs:94-117 and 150-170 (--service-config takes 3 values)
    ("environment", "edit"): {"--project": 1, "-p": 1, "--environment": 1, "-e": 1,
                              "--service-config": 3, "-s": 3, "--service-variable": 2,
                              "-v": 2, "--message": 1, "-m": 1, "--stage": 0, "--json": 0},
    # commands/environment/mod.rs:121-129
    ("environment", "config"): {"--environment": 1, "-e": 1, "--json": 0},
    # commands/up.rs:41-108
    ("up",): dict(COMMON, **{"--detach": 0, "-d": 0, "--no-wait": 0, "--yes": 0, "-y": 0,
                             "--ci": 0, "-c": 0, "--workspace": 1, "-w": 1, "--new": 0,
                             "--name": 1, "--no-gitignore": 0, "--path-as-root": 0,
                             "--verbose": 0, "--message": 1, "-m": 1}),
    # commands/deployment.rs:32-53
    ("deployment", "list"): dict(COMMON, **{"--limit": 1}),
    # commands/logs.rs:481-521 (the filters after it are not used here)
    ("logs",): dict(COMMON, **{"--deployment": 0, "-d": 0, "--build": 0, "-b": 0,
                               "--http": 0, "--network": 0, "--dns": 0, "--lines": 1, "-n": 1,
                               "--tail": 1, "--filter": 1, "-f": 1}),
    # commands/domain.rs:28-57 (no -p for --project: -p is --port)
    ("domain",): {"--port": 1, "-p": 1, "--service": 1, "-s": 1, "--environment": 1, "-e": 1,
                  "--project": 1, "--json": 0},
    # commands/service.rs:130-160
    ("service", "source", "connect"): dict(COMMON, **{"--repo": 1, "--branch": 1,
                                                      "--image": 1}),
    # commands/run.rs:22-48 (everything after `--` is the program)
    ("run",): dict(COMMON, **{"--no-local": 0, "--verbose": 0, "-v": 0}),
}


def usage_error(message):
    # clap's own wording and exit status 2 (main.rs:427-431)
    sys.stderr.write(f"error: {message}\n\nUsage: railway [COMMAND]\n\n"
                     "For more information, try '--help'.\n")
    sys.exit(2)


def parse(path, rest):
    """The flags of `rest` as {flag: [values...]}, positionals, and what follows `--`."""
    spec = FLAGS[path]
    flags, positionals, trailing = {}, [], []
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == "--":
            trailing = rest[i + 1:]
            break
        if a.startswith("-") and len(a) > 1:
            name, _, inline = a.partition("=")
            if name not in spec:
                usage_error(f"unexpected argument '{name}' found")
            n = spec[name]
            values = [inline] if inline else rest[i + 1:i + 1 + n - (1 if inline else 0)]
            if len(values) < n:
                usage_error(f"a value is required for '{name}' but none was supplied")
            flags.setdefault(name, []).extend(values)
            i += 1 + n - (1 if inline else 0)
            continue
        positionals.append(a)
        i += 1
    return flags, positionals, trailing


def command_path():
    for n in (3, 2, 1):
        if tuple(ARGS[:n]) in FLAGS:
            return tuple(ARGS[:n])
    if ARGS and not ARGS[0].startswith("-"):
        usage_error(f"unrecognized subcommand '{ARGS[0]}'")
    return None


def load():
    try:
        with open(os.path.join(D, "state.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return {"linked": None, "project": None, "services": {}, "deployments": {}, "counter": 0}


def save():
    with open(os.path.join(D, "state.json"), "w") as f:
        json.dump(s, f, indent=1)


def out(value, pretty=False):
    print(json.dumps(value, indent=2 if pretty else None))
    sys.exit(0)


def fail(message):
    # Human mode: the error on stderr, exit status 1 (util/reporter.rs:176-188, main.rs:486-489)
    sys.stderr.write(message + "\n")
    sys.exit(1)


def lines_of(name, default):
    p = os.path.join(D, name)
    if not os.path.exists(p):
        return default
    with open(p) as f:
        return [l.strip() for l in f if l.strip()]


def scenario(name):
    """True once per count in the file (the file holds how many times)."""
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


def take(name):
    """A scenario file's content, used once."""
    p = os.path.join(D, name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        text = f.read().split()
    os.remove(p)
    return text


def one(flags, *names):
    for n in names:
        if n in flags:
            return flags[n][-1]
    return None


s = load()

if ARGS == ["--version"] or ARGS == ["-V"]:
    # clap's version line: the command name is "railway" (macros.rs:14-23)
    version = lines_of("version", [f"railway {VERSION}"])
    print(version[0])
    sys.exit(0)

path = command_path()
if path is None:
    usage_error(f"unexpected arguments {ARGS}")
flags, positionals, trailing = parse(path, ARGS[len(path):])
json_mode = "--json" in flags

if os.path.exists(os.path.join(D, "logged_out")):
    # errors.rs:30
    if path == ("up",) and json_mode:
        # up fails fast without a login in --json mode (up.rs:578-583, errors.rs:161), its error
        # on stdout as JSON (up.rs:111, util/reporter.rs:164-174); exit status 1
        print(json.dumps({"error": "Not signed in.", "code": "NOT_AUTHENTICATED",
                          "hint": "Run `railway login` to authenticate, then re-run."}))
        sys.exit(1)
    fail("Unauthorized. Please login with `railway login`")

WORKSPACES = lines_of("workspaces", ["Acme"])

if path == ("whoami",):
    # commands/whoami.rs:34-47
    out({"name": "Test User", "email": "test@example.com",
         "workspaces": [{"id": "ws-" + w.lower(), "name": w} for w in WORKSPACES]}, pretty=True)

if path == ("init",):
    workspace = one(flags, "--workspace", "-w")
    if workspace is not None:
        if not any(workspace.lower() in (w.lower(), "ws-" + w.lower()) for w in WORKSPACES):
            fail(f'Workspace "{workspace}" not found.')  # init.rs:106-111, errors.rs:97
    elif len(WORKSPACES) > 1:
        # init.rs:114-120: stdout is not a terminal here
        fail("--workspace required in non-interactive mode (multiple workspaces available)")
    name = one(flags, "--name", "-n") or "railway-project"
    s["project"] = {"id": "proj-1", "name": name,
                    "environments": [{"id": "env-1", "name": "production"}]}
    # init links the project's first environment (init.rs:54-68)
    s["linked"] = {"project": "proj-1", "environment": "env-1"}
    save()
    out({"id": "proj-1", "name": name})  # init.rs:70-77

if path == ("link",):
    workspace = one(flags, "--workspace", "-w")
    if workspace is not None and not any(workspace.lower() == w.lower() for w in WORKSPACES):
        fail(f'Workspace "{workspace}" not found.')  # link.rs:492-504
    project = one(flags, "--project", "-p")
    if project is None:
        if len(WORKSPACES) > 1 and workspace is None:
            # link.rs:511-531
            fail("--workspace required in non-interactive mode.\nAvailable: "
                 + ", ".join(WORKSPACES[:5]))
        fail("--project required in non-interactive mode.\nAvailable: pdfq")  # link.rs:535-551
    envs = lines_of("environments", ["production"])
    environments = [{"id": f"env-{i + 1}", "name": n} for i, n in enumerate(envs)]
    environment = one(flags, "--environment", "-e")
    if environment is None:
        if len(environments) > 1:
            # link.rs:403-425
            fail("--environment required in non-interactive mode.\nAvailable: "
                 + ", ".join(e["name"] for e in environments[:5]))
        chosen = environments[0]
    else:
        chosen = next((e for e in environments
                       if environment.lower() in (e["name"].lower(), e["id"])), None)
        if chosen is None:
            # link.rs:385-401
            fail(f'Environment "{environment}" not found.\nAvailable: '
                 + ", ".join(e["name"] for e in environments[:5]))
    if s["project"] is None or s["project"]["name"] != project:
        s["project"] = {"id": "proj-1", "name": project, "environments": environments}
    s["linked"] = {"project": "proj-1", "environment": chosen["id"]}
    save()
    # link.rs:64-75, 227-236
    out({"projectId": "proj-1", "projectName": project, "environmentId": chosen["id"],
         "environmentName": chosen["name"]}, pretty=True)

if s.get("linked") is None:
    fail("No linked project found. Run railway link to connect to a project")  # errors.rs:67


def env_name():
    return next(e["name"] for e in s["project"]["environments"]
                if e["id"] == s["linked"]["environment"])


def service(name):
    if name is None:
        fail("No service linked and no --service given")
    for key, svc in s["services"].items():
        if name in (key, svc["id"]):
            return key, svc
    fail(f'Service "{name}" not found.')  # errors.rs:100


def advance(dep):
    """Backend: a deployment moves one status further each time it is listed."""
    if dep["pending"]:
        dep["status"] = dep["pending"].pop(0)
        if dep["status"] in ("SUCCESS", "SLEEPING"):
            # Backend: the deployment that goes live replaces the previous live one.
            for other in s["deployments"].get(dep["service"], []):
                if other is not dep and other["status"] in ("SUCCESS", "SLEEPING"):
                    other["status"] = "REMOVED"
                    other["pending"] = []
        if dep["status"] == "SUCCESS" and dep["service"] == "pdfq-api":
            # Railway runs the preDeployCommand (pdfctl migrate run) before it goes live.
            s["migrated"] = True


def new_deployment(name, statuses, log="Build succeeded"):
    s["counter"] += 1
    dep = {"id": f"dep-{s['counter']}", "service": name, "status": statuses[0],
           "pending": statuses[1:], "log": log}
    s["deployments"].setdefault(name, []).insert(0, dep)
    return dep


if path == ("status",):
    # commands/status.rs:74-92: the project as the GraphQL query returns it
    p = {"id": s["project"]["id"], "name": s["project"]["name"],
         "environments": {"edges": [{"node": e} for e in s["project"]["environments"]]},
         "services": {"edges": [{"node": {"id": v["id"], "name": k}}
                                for k, v in s["services"].items()]}}
    out(p, pretty=True)

if path == ("add",):
    database = one(flags, "--database", "-d")
    if database == "redis":
        s["services"]["Redis"] = {
            "id": "svc-redis",
            "variables": {
                "REDIS_URL": "redis://default:pw@redis.railway.internal:6379",
                "REDIS_PUBLIC_URL": os.environ.get("FAKE_REDIS_PUBLIC_URL", ""),
            },
            "config": {}, "domains": [],
        }
        save()
        # commands/deploy.rs:257-271
        out({"templateId": "tpl-redis", "templateName": "Redis", "serviceId": "svc-redis",
             "serviceName": "Redis"})
    name = one(flags, "--service", "-s")
    s["services"][name] = {"id": "svc-" + name, "variables": {}, "config": {}, "domains": []}
    save()
    out({"id": "svc-" + name, "name": name})  # add.rs:342-346

if path == ("variables",):
    _, svc = service(one(flags, "--service", "-s"))
    sets = flags.get("--set", [])
    if sets:
        for kv in sets:
            k, v = kv.split("=", 1)
            svc["variables"][k] = v
        save()
        out({"keys": [kv.split("=", 1)[0] for kv in sets], "set": True})  # variable.rs:355-360
    out(svc["variables"], pretty=True)  # variable.rs:211-213


def known(section, keys):
    return {k: v for k, v in (section or {}).items() if k in keys}


def merge(target, patch):
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(target.get(k), dict):
            merge(target[k], v)
        else:
            target[k] = v


if path == ("environment", "config"):
    # environment/config.rs:27-31: the environment's config, keyed by service id; fields left
    # out when unset (controllers/config/environment.rs:15, skip_serializing_none)
    out({"services": {v["id"]: v["config"] for v in s["services"].values()}}, pretty=True)

if path == ("environment", "edit"):
    # environment/edit.rs:34 and 218-221: when stdin is not a terminal, the config comes from
    # stdin, and --service-config flags are never read
    if not sys.stdin.isatty():
        text = sys.stdin.read().strip()
        with open(os.path.join(D, "stdin.log"), "a") as f:
            f.write(json.dumps(text) + "\n")
        if not text:
            patch = {}  # edit.rs:252-255
        else:
            try:
                patch = json.loads(text)
            except ValueError as e:
                fail(f"Failed to parse stdin as JSON. Expected EnvironmentConfig format.\n\n"
                     f"Caused by:\n    {e}")  # edit.rs:257-259
    else:
        fail("fake railway: a terminal on stdin is not modelled")
    services = (patch or {}).get("services") or {}
    if not services:
        # edit.rs:64-74
        if json_mode:
            out({"staged": False, "committed": False, "message": "No changes to apply"})
        sys.exit(0)
    for key in services:
        # edit.rs:261-286: a key must be a service id, or (case-insensitively) a name
        if not any(key == v["id"] or key.lower() == n.lower() for n, v in s["services"].items()):
            fail(f"Service '{key}' not found in environment. Available services: "
                 + ", ".join(s["services"]))
    for key, instance in services.items():
        svc = next((v for v in s["services"].values() if v["id"] == key), None)
        if svc is None:
            # Backend: the patch is applied by service id; a name matches no service instance.
            continue
        kept = {"build": known(instance.get("build"), BUILD_KEYS),
                "deploy": known(instance.get("deploy"), DEPLOY_KEYS),
                "source": known(instance.get("source"), SOURCE_KEYS)}
        merge(svc["config"], {k: v for k, v in kept.items() if v})
    save()
    # edit.rs:145-155 (no --message: "message" is null)
    out({"staged": True, "committed": True, "environmentId": s["linked"]["environment"],
         "environmentName": env_name(), "message": one(flags, "--message", "-m")})

if path == ("up",):
    name, svc = service(one(flags, "--service", "-s"))
    statuses = ["QUEUED", "BUILDING", "DEPLOYING", "SUCCESS"]
    log = "Build succeeded"
    custom = take("statuses_" + name)
    if scenario("fail_up_" + name):
        statuses, log = ["BUILDING", "FAILED"], \
            "error[E0425]: cannot find value `x` in this scope\nerror: could not compile"
    elif scenario("healthcheck_" + name):
        statuses, log = ["BUILDING", "DEPLOYING", "FAILED"], \
            "Starting Healthcheck\nPath: /api/v1/health\n" \
            "Attempt #1 failed with service unavailable\nHealthcheck failed!"
    elif scenario("stuck_" + name):
        statuses = ["BUILDING", "DEPLOYING"]
    elif custom:
        statuses = custom
    dep = new_deployment(name, statuses, log)
    racing = take("racing_" + name)
    if racing:
        new_deployment(name, racing, "a push to the connected branch")
    save()
    logs_url = f"https://railway.com/project/proj-1/service/{svc['id']}?id={dep['id']}"
    if "--detach" in flags or "-d" in flags or "--no-wait" in flags:
        if json_mode:
            out({"deploymentId": dep["id"], "logsUrl": logs_url})  # up.rs:314-322
        print("Indexing...\nUploading...")  # up.rs:215-217, 275-277
        print(f"  Build Logs: {logs_url}")  # up.rs:310-312
        sys.exit(0)
    fail("fake railway: `up` without --detach (following the build) is not modelled")

if path == ("deployment", "list"):
    name, _ = service(one(flags, "--service", "-s"))
    limit = int(one(flags, "--limit") or "20")  # deployment.rs:46-48
    deps = s["deployments"].get(name, [])
    for d in deps:
        advance(d)
    save()
    # deployment.rs:142-153: newest first, status as the enum's name
    out([{"id": d["id"], "status": d["status"], "createdAt": "2026-12-06T00:00:00Z",
          "meta": {}} for d in deps[:max(1, min(limit, 1000))]], pretty=True)


def log_line(message, level):
    # util/logs.rs:106-128: message, timestamp, then each attribute of the log line
    return json.dumps({"message": message, "timestamp": "2026-12-06T00:00:00Z",
                       "level": level})


if path == ("logs",):
    name, _ = service(one(flags, "--service", "-s"))
    if "--build" in flags or "-b" in flags:
        dep = next((d for d in s["deployments"].get(name, []) if d["id"] in positionals), None)
        for line in (dep or {"log": ""})["log"].splitlines():
            print(log_line(line, "info"))
        sys.exit(0)
    default = [f'stdout {{"timestamp":"2026-12-06T00:00:00Z","level":"INFO",'
               f'"message":"{name} started"}}']
    for entry in lines_of("output_" + name, default):
        stream, _, text = entry.partition(" ")
        if stream == "stderr":
            # Backend (Railway's docs, "Logs"): a line written to stderr is level error.
            print(log_line(text, "error"))
            continue
        try:
            # Backend: a JSON line's fields become attributes; its "level" sets the level.
            event = json.loads(text)
            print(log_line(event.get("message", text), str(event.get("level", "info")).lower()))
        except ValueError:
            print(log_line(text, "info"))
    sys.exit(0)

if path == ("domain",):
    name, svc = service(one(flags, "--service", "-s"))
    if svc["domains"]:
        # domain.rs:456-461 and 498-506: the existing domains, as a list
        out({"domains": svc["domains"]}, pretty=True)
    # domain.rs:484-490 and 1052-1060: the one created, as https://HOST. The tests' stand-in
    # API answers plain http on loopback, so FAKE_DOMAIN may carry its own scheme.
    url = os.environ.get("FAKE_DOMAIN", "pdfq-api-production.up.railway.app")
    url = url if "://" in url else "https://" + url
    svc["domains"].append(url)
    save()
    out({"domain": url}, pretty=True)

if path == ("service", "source", "connect"):
    repo, image = one(flags, "--repo"), one(flags, "--image")
    if (repo is None) == (image is None):
        # service.rs:131: exactly one of --repo and --image
        usage_error("the following required arguments were not provided:\n  <--repo|--image>")
    if "--branch" in flags and repo is None:
        usage_error("the following required arguments were not provided:\n  --repo <REPO>")
    name, svc = service(one(flags, "--service", "-s"))
    if repo is not None and (len(repo.split("/")) != 2 or not all(repo.split("/"))):
        fail("Repo must be in owner/repo format")  # controllers/github.rs:45-52
    branch = one(flags, "--branch") or "main"
    svc["config"]["source"] = {"repo": repo, "branch": branch} if repo else {"image": image}
    save()
    # service.rs:372-382
    out({"id": svc["id"], "name": name, "repo": repo, "branch": branch if repo else None,
         "image": image, "disconnected": False}, pretty=True)

if path == ("run",):
    service(one(flags, "--service", "-s"))
    program = trailing or positionals
    if program[1:3] == ["migrate", "run"]:
        s["migrated"] = True
        save()
        print("1 migrations applied, none pending")
        sys.exit(0)
    if program[1:3] == ["migrate", "verify"]:
        if s.get("migrated"):
            print("schema matches the migrations")
            sys.exit(0)
        fail("pending migrations: 0001_init")

fail(f"fake railway: not modelled: {ARGS}")
