//! The Railway CLI driver. Every command line the deploy can run is a `Call`, built in one place,
//! so `cargo xtask railway-cli-check` can pass each of them through the real CLI's argument
//! parser. Calls run through `Exec` (a dry run prints them); failures are turned into what to do.
//!
//! Written against railwayapp 5.43.1 (the crate's published source): `environment edit` reads
//! its patch from stdin whenever stdin is not a terminal (src/commands/environment/edit.rs:218),
//! so settings go as one JSON patch on stdin; `domain --json` prints `{"domain": url}` when it
//! creates one and `{"domains": [url...]}` when some exist (src/commands/domain.rs:456-461,
//! 1056-1069); `up --detach --json` prints `{"deploymentId": ...}` (src/commands/up.rs:314-322).

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde_json::Value;

use super::exec::{Exec, Out};

/// The Railway CLI release the deploy was checked against (README: Deployment). A CLI of
/// another major version gets a warning: its flags or JSON may differ.
pub const CHECKED_VERSION: &str = "5.43.1";

/// A linked project as `railway status --json` describes it.
#[derive(Debug, Default)]
pub struct Project {
    pub id: String,
    pub name: String,
    /// service name -> service id
    pub services: BTreeMap<String, String>,
}

/// Who is logged in, and the workspaces they can create projects in.
#[derive(Debug, Default)]
pub struct Account {
    pub who: String,
    pub workspaces: Vec<String>,
}

/// One deployment of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub id: String,
    pub status: String,
}

/// Every command line the deploy runs.
#[derive(Debug, Clone)]
pub enum Call {
    Version,
    Whoami,
    Status,
    Init {
        name: String,
        workspace: Option<String>,
    },
    Link {
        project: String,
        environment: Option<String>,
        workspace: Option<String>,
    },
    AddRedis,
    AddService {
        name: String,
    },
    Variables {
        service: String,
    },
    SetVariables {
        service: String,
        vars: Vec<(String, String)>,
    },
    EnvironmentConfig,
    /// The patch goes on stdin.
    EnvironmentEdit,
    Up {
        service: String,
    },
    Deployments {
        service: String,
        limit: u32,
    },
    Logs {
        service: String,
        deployment: Option<String>,
        build: bool,
    },
    Domain {
        service: String,
    },
    SourceConnect {
        service: String,
        repo: String,
        branch: String,
    },
    Run {
        service: String,
        program: String,
        args: Vec<String>,
    },
}

impl Call {
    pub fn args(&self) -> Vec<String> {
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        match self {
            Call::Version => owned(&["--version"]),
            Call::Whoami => owned(&["whoami", "--json"]),
            Call::Status => owned(&["status", "--json"]),
            Call::Init { name, workspace } => {
                let mut args = owned(&["init", "--name", name]);
                if let Some(w) = workspace {
                    args.extend(owned(&["--workspace", w]));
                }
                args.push("--json".to_owned());
                args
            }
            Call::Link {
                project,
                environment,
                workspace,
            } => {
                let mut args = owned(&["link", "--project", project]);
                if let Some(e) = environment {
                    args.extend(owned(&["--environment", e]));
                }
                if let Some(w) = workspace {
                    args.extend(owned(&["--workspace", w]));
                }
                args.push("--json".to_owned());
                args
            }
            Call::AddRedis => owned(&["add", "--database", "redis", "--json"]),
            Call::AddService { name } => owned(&["add", "--service", name, "--json"]),
            Call::Variables { service } => owned(&["variables", "--service", service, "--json"]),
            Call::SetVariables { service, vars } => {
                let mut args = owned(&["variables", "--service", service]);
                for (k, v) in vars {
                    args.push("--set".to_owned());
                    args.push(format!("{k}={v}"));
                }
                args.extend(owned(&["--skip-deploys", "--json"]));
                args
            }
            Call::EnvironmentConfig => owned(&["environment", "config", "--json"]),
            Call::EnvironmentEdit => owned(&["environment", "edit", "--json"]),
            Call::Up { service } => owned(&["up", "--service", service, "--detach", "--json"]),
            Call::Deployments { service, limit } => owned(&[
                "deployment",
                "list",
                "--service",
                service,
                "--limit",
                &limit.to_string(),
                "--json",
            ]),
            Call::Logs {
                service,
                deployment,
                build,
            } => {
                let mut args = owned(&["logs"]);
                if let Some(id) = deployment {
                    args.push(id.clone());
                }
                args.extend(owned(&["--service", service]));
                if *build {
                    args.push("--build".to_owned());
                }
                args.extend(owned(&["--lines", "500", "--json"]));
                args
            }
            Call::Domain { service } => owned(&["domain", "--service", service, "--json"]),
            Call::SourceConnect {
                service,
                repo,
                branch,
            } => owned(&[
                "service",
                "source",
                "connect",
                "--service",
                service,
                "--repo",
                repo,
                "--branch",
                branch,
                "--json",
            ]),
            Call::Run {
                service,
                program,
                args,
            } => {
                let mut all = owned(&["run", "--service", service, "--", program]);
                all.extend(args.iter().cloned());
                all
            }
        }
    }

    /// Every shape of command line the deploy can produce, with sample values (and the stdin
    /// of those that read one): what `cargo xtask railway-cli-check` passes to the real CLI.
    pub fn every_shape() -> Vec<(Call, Option<String>)> {
        let s = |v: &str| v.to_owned();
        let patch =
            serde_json::json!({"services": {"svc-id": {"build": {"builder": "DOCKERFILE"}}}})
                .to_string();
        vec![
            (Call::Version, None),
            (Call::Whoami, None),
            (Call::Status, None),
            (
                Call::Init {
                    name: s("pdfq"),
                    workspace: None,
                },
                None,
            ),
            (
                Call::Init {
                    name: s("pdfq"),
                    workspace: Some(s("Acme")),
                },
                None,
            ),
            (
                Call::Link {
                    project: s("pdfq"),
                    environment: Some(s("production")),
                    workspace: Some(s("Acme")),
                },
                None,
            ),
            (
                Call::Link {
                    project: s("pdfq"),
                    environment: None,
                    workspace: None,
                },
                None,
            ),
            (Call::AddRedis, None),
            (
                Call::AddService {
                    name: s("pdfq-api"),
                },
                None,
            ),
            (
                Call::Variables {
                    service: s("pdfq-api"),
                },
                None,
            ),
            (
                Call::SetVariables {
                    service: s("pdfq-api"),
                    vars: vec![(s("PORT"), s("8000")), (s("LOG_FORMAT"), s("json"))],
                },
                None,
            ),
            (Call::EnvironmentConfig, None),
            (Call::EnvironmentEdit, Some(patch)),
            (
                Call::Up {
                    service: s("pdfq-api"),
                },
                None,
            ),
            (
                Call::Deployments {
                    service: s("pdfq-api"),
                    limit: 20,
                },
                None,
            ),
            (
                Call::Logs {
                    service: s("pdfq-api"),
                    deployment: None,
                    build: false,
                },
                None,
            ),
            (
                Call::Logs {
                    service: s("pdfq-api"),
                    deployment: Some(s("0b3c9f6e-2c1d-4e8a-9f00-1a2b3c4d5e6f")),
                    build: true,
                },
                None,
            ),
            (
                Call::Domain {
                    service: s("pdfq-api"),
                },
                None,
            ),
            (
                Call::SourceConnect {
                    service: s("pdfq-api"),
                    repo: s("owner/pdfq"),
                    branch: s("main"),
                },
                None,
            ),
            (
                Call::Run {
                    service: s("pdfq-api"),
                    program: s("/usr/local/bin/pdfctl"),
                    args: vec![s("migrate"), s("verify")],
                },
                None,
            ),
        ]
    }
}

/// How far the installed CLI is from the one the deploy was checked against.
#[derive(Debug, PartialEq, Eq)]
pub enum VersionCheck {
    Same,
    /// Same major version: flags and JSON are kept within a major version.
    Compatible(String),
    /// Another major version: a warning.
    OtherMajor(String),
    Unreadable(String),
}

/// Compares `railway --version`'s output ("railway 5.43.1") with CHECKED_VERSION.
pub fn check_version(output: &str) -> VersionCheck {
    let Some(found) = output
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
    else {
        return VersionCheck::Unreadable(output.trim().to_owned());
    };
    let major = |v: &str| v.split('.').next().unwrap_or_default().to_owned();
    if found == CHECKED_VERSION {
        VersionCheck::Same
    } else if major(found) == major(CHECKED_VERSION) {
        VersionCheck::Compatible(found.to_owned())
    } else {
        VersionCheck::OtherMajor(found.to_owned())
    }
}

#[derive(Debug)]
pub struct Cli<'a> {
    exec: &'a Exec,
}

impl<'a> Cli<'a> {
    pub fn new(exec: &'a Exec) -> Self {
        Self { exec }
    }

    fn run(&self, call: &Call) -> anyhow::Result<Out> {
        self.exec.run("railway", &call.args())
    }

    /// Runs a command that must succeed; its output parsed as JSON (Null in a dry run).
    fn json(&self, call: &Call) -> anyhow::Result<Value> {
        let out = self.must(call)?;
        parse_json(call, &out)
    }

    fn must(&self, call: &Call) -> anyhow::Result<Out> {
        let out = self.run(call)?;
        ensure_ok(call, &out)?;
        Ok(out)
    }

    /// The CLI is installed (warning when its major version is not the one checked against)
    /// and logged in; returns who is logged in and their workspaces (`whoami --json`,
    /// src/commands/whoami.rs:34-47).
    pub fn preflight(&self) -> anyhow::Result<Account> {
        let version = self.exec.run("railway", &Call::Version.args());
        let not_found = |e: &anyhow::Error| {
            e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        };
        match version {
            Err(e) if not_found(&e) => bail!(
                "the Railway CLI is not installed: install it (npm install -g @railway/cli@{CHECKED_VERSION}, \
                 or cargo install railwayapp --version {CHECKED_VERSION} --locked), then run \
                 `railway login`"
            ),
            Err(e) => bail!("the Railway CLI could not be started: {e:#}"),
            Ok(out) if out.ran && !out.ok => bail!("`railway --version` failed: {}", out.message()),
            Ok(out) if out.ran => match check_version(&out.stdout) {
                VersionCheck::OtherMajor(found) => println!(
                    "  warning: the Railway CLI is {found}; this deploy was checked against \
                     {CHECKED_VERSION}: its flags or JSON may differ. Install {CHECKED_VERSION} \
                     (npm install -g @railway/cli@{CHECKED_VERSION}) if a step fails oddly."
                ),
                VersionCheck::Unreadable(text) => println!(
                    "  warning: cannot read the Railway CLI's version from {text:?}; this deploy \
                     was checked against {CHECKED_VERSION}"
                ),
                VersionCheck::Same | VersionCheck::Compatible(_) => {}
            },
            Ok(_) => {}
        }
        let out = self.run(&Call::Whoami)?;
        if !out.ran {
            return Ok(Account::default());
        }
        if !out.ok {
            bail!(
                "the Railway CLI is not logged in ({}): run `railway login` (or set \
                 RAILWAY_API_TOKEN to an account token), then re-run",
                out.message()
            );
        }
        let who: Value = serde_json::from_str(out.stdout.trim()).unwrap_or(Value::Null);
        Ok(Account {
            who: who
                .get("email")
                .or_else(|| who.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned(),
            workspaces: nodes(who.get("workspaces"))
                .into_iter()
                .map(|w| str_at(w, &["name"]))
                .filter(|name| !name.is_empty())
                .collect(),
        })
    }

    /// The linked project, or None when this directory is linked to none.
    pub fn status(&self) -> anyhow::Result<Option<Project>> {
        let call = Call::Status;
        let out = self.run(&call)?;
        if !out.ran {
            return Ok(None);
        }
        if !out.ok {
            let message = out.message();
            if message.to_ascii_lowercase().contains("no linked project") {
                return Ok(None);
            }
            bail!("railway status failed: {message}{}", advice(&message));
        }
        let json = parse_json(&call, &out)?;
        let mut project = Project {
            id: str_at(&json, &["id"]),
            name: str_at(&json, &["name"]),
            services: BTreeMap::new(),
        };
        for node in nodes(json.get("services")) {
            let name = str_at(node, &["name"]);
            if !name.is_empty() {
                project.services.insert(name, str_at(node, &["id"]));
            }
        }
        Ok(Some(project))
    }

    pub fn init(&self, name: &str, workspace: Option<&str>) -> anyhow::Result<()> {
        let call = Call::Init {
            name: name.to_owned(),
            workspace: workspace.map(str::to_owned),
        };
        self.must(&call).map(|_| ())
    }

    pub fn link(
        &self,
        project: &str,
        environment: Option<&str>,
        workspace: Option<&str>,
    ) -> anyhow::Result<()> {
        let call = Call::Link {
            project: project.to_owned(),
            environment: environment.map(str::to_owned),
            workspace: workspace.map(str::to_owned),
        };
        self.must(&call).map(|_| ())
    }

    pub fn add_redis(&self) -> anyhow::Result<()> {
        self.must(&Call::AddRedis).map(|_| ())
    }

    /// An empty service; its source is the `railway up` upload of this checkout.
    pub fn add_service(&self, name: &str) -> anyhow::Result<()> {
        self.must(&Call::AddService {
            name: name.to_owned(),
        })
        .map(|_| ())
    }

    pub fn variables(&self, service: &str) -> anyhow::Result<BTreeMap<String, String>> {
        let json = self.json(&Call::Variables {
            service: service.to_owned(),
        })?;
        let mut vars = BTreeMap::new();
        if let Value::Object(map) = json {
            for (k, v) in map {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                vars.insert(k, v);
            }
        }
        Ok(vars)
    }

    /// Sets variables without triggering a deploy: the step deploys once, at its end.
    pub fn set_variables(&self, service: &str, vars: &[(String, String)]) -> anyhow::Result<()> {
        self.must(&Call::SetVariables {
            service: service.to_owned(),
            vars: vars.to_vec(),
        })
        .map(|_| ())
    }

    /// The environment's configuration (`services.<service id>.build|deploy|source...`).
    pub fn environment_config(&self) -> anyhow::Result<Value> {
        self.json(&Call::EnvironmentConfig)
    }

    /// Applies `patch` (`{"services": {"<id>": {"build": {...}, "deploy": {...}}}}`) to the
    /// linked environment and commits it, the way the CLI accepts it without a terminal: on
    /// stdin. An answer that committed nothing is an error.
    pub fn apply_patch(&self, patch: &Value) -> anyhow::Result<()> {
        let call = Call::EnvironmentEdit;
        let text = patch.to_string();
        let out = self.exec.run_input("railway", &call.args(), &text)?;
        ensure_ok(&call, &out)?;
        let answer = parse_json(&call, &out)?;
        if out.ran && answer.get("committed") != Some(&Value::Bool(true)) {
            bail!(
                "railway environment edit committed nothing: it answered {}. The patch was {text}",
                out.stdout.trim()
            );
        }
        Ok(())
    }

    /// Uploads this checkout and deploys it to the service without following the build;
    /// returns the new deployment's id (the caller polls it, with its own timeout).
    pub fn up(&self, service: &str) -> anyhow::Result<String> {
        let call = Call::Up {
            service: service.to_owned(),
        };
        let json = self.json(&call)?;
        let id = str_at(&json, &["deploymentId"]);
        let out_ran = !json.is_null();
        if out_ran && id.is_empty() {
            bail!("railway up printed no deploymentId: {json}");
        }
        Ok(id)
    }

    /// The service's latest deployments, newest first.
    pub fn deployments(&self, service: &str, limit: u32) -> anyhow::Result<Vec<Deployment>> {
        let json = self.json(&Call::Deployments {
            service: service.to_owned(),
            limit,
        })?;
        Ok(json
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|d| Deployment {
                        id: str_at(d, &["id"]),
                        status: str_at(d, &["status"]).to_ascii_uppercase(),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The last 500 lines of a service's deploy logs (or, with `build`, of a deployment's build
    /// logs), as printed.
    pub fn logs(
        &self,
        service: &str,
        deployment: Option<&str>,
        build: bool,
    ) -> anyhow::Result<String> {
        let out = self.must(&Call::Logs {
            service: service.to_owned(),
            deployment: deployment.map(str::to_owned),
            build,
        })?;
        Ok(out.stdout)
    }

    /// The service's public URL. `railway domain` creates a Railway domain when the service has
    /// none and prints `{"domain": url}`; when it has some it prints `{"domains": [url, ...]}`
    /// (Railway's own domains first).
    pub fn domain(&self, service: &str) -> anyhow::Result<String> {
        let json = self.json(&Call::Domain {
            service: service.to_owned(),
        })?;
        Ok(domain_url(&json))
    }

    /// Connects the service to a GitHub repository and branch, so a push deploys it.
    pub fn connect_source(&self, service: &str, repo: &str, branch: &str) -> anyhow::Result<()> {
        self.must(&Call::SourceConnect {
            service: service.to_owned(),
            repo: repo.to_owned(),
            branch: branch.to_owned(),
        })
        .map(|_| ())
    }

    /// Runs a local program with the service's variables (`railway run`).
    pub fn run_with_service(
        &self,
        service: &str,
        program: &str,
        args: &[&str],
    ) -> anyhow::Result<Out> {
        self.run(&Call::Run {
            service: service.to_owned(),
            program: program.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
        })
    }
}

/// A failed command as an error with what to do.
fn ensure_ok(call: &Call, out: &Out) -> anyhow::Result<()> {
    if out.ran && !out.ok {
        let message = out.message();
        bail!(
            "railway {} failed: {message}{}",
            call.args().join(" "),
            advice(&message)
        );
    }
    Ok(())
}

/// The command's output as JSON (Null in a dry run). A line of progress before the JSON (the
/// CLI prints those on stderr in --json mode, but a wrapper may not) is skipped.
fn parse_json(call: &Call, out: &Out) -> anyhow::Result<Value> {
    if !out.ran {
        return Ok(Value::Null);
    }
    let text = out.stdout.trim();
    let from_first_json_line = text
        .match_indices('\n')
        .map(|(i, _)| &text[i + 1..])
        .find(|rest| rest.starts_with(['{', '[']));
    serde_json::from_str(text)
        .or_else(|e| from_first_json_line.map_or(Err(e), serde_json::from_str))
        .with_context(|| format!("railway {} printed no JSON: {text}", call.args().join(" ")))
}

/// The URL in `railway domain --json`'s answer, in either of its shapes.
pub fn domain_url(json: &Value) -> String {
    let created = json.get("domain").and_then(Value::as_str);
    let existing = json
        .get("domains")
        .and_then(Value::as_array)
        .and_then(|list| list.iter().find_map(Value::as_str));
    let Some(domain) = created.or(existing).filter(|d| !d.is_empty()) else {
        return String::new();
    };
    let domain = domain.trim_end_matches('/');
    if domain.contains("://") {
        domain.to_owned()
    } else {
        format!("https://{domain}")
    }
}

/// What to do about a CLI failure, when its message says.
fn advice(message: &str) -> &'static str {
    let lower = message.to_ascii_lowercase();
    if lower.contains("--workspace required") {
        "\n  → your Railway account has several workspaces: set PDFQ_DEPLOY_WORKSPACE (or \
         --workspace) to the workspace's name or id (`railway whoami --json` lists them), then \
         re-run"
    } else if lower.contains("--environment required") {
        "\n  → the project has several environments: set PDFQ_DEPLOY_ENVIRONMENT (or \
         --environment) to the one to deploy to (the CLI lists them above), then re-run"
    } else if lower.contains("workspace") && lower.contains("not found") {
        "\n  → PDFQ_DEPLOY_WORKSPACE (--workspace) names no workspace of this account: \
         `railway whoami --json` lists them"
    } else if lower.contains("environment") && lower.contains("not found") {
        "\n  → PDFQ_DEPLOY_ENVIRONMENT (--environment) names no environment of the project \
         (the CLI lists them above)"
    } else if lower.contains("unauthorized")
        || lower.contains("not logged in")
        || lower.contains("login")
    {
        "\n  → run `railway login` (or set RAILWAY_API_TOKEN), then re-run"
    } else if lower.contains("no linked project") {
        "\n  → run the project step: cargo xtask deploy --only project"
    } else if lower.contains("service") && lower.contains("not found") {
        "\n  → the service is missing: re-run from the step that creates it"
    } else {
        ""
    }
}

/// A string at a path of keys, or "".
pub fn str_at(value: &Value, path: &[&str]) -> String {
    let mut v = value;
    for key in path {
        match v.get(key) {
            Some(next) => v = next,
            None => return String::new(),
        }
    }
    v.as_str().unwrap_or_default().to_owned()
}

/// The nodes of a GraphQL connection (`{"edges":[{"node":{...}}]}`) or of a plain array.
fn nodes(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Object(map)) => map
            .get("edges")
            .and_then(Value::as_array)
            .map(|edges| edges.iter().filter_map(|e| e.get("node")).collect())
            .unwrap_or_default(),
        Some(Value::Array(items)) => items.iter().collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_domain_shapes_give_the_url() {
        let created = serde_json::json!({"domain": "https://a.up.railway.app"});
        let existing =
            serde_json::json!({"domains": ["https://a.up.railway.app", "https://x.com"]});
        assert_eq!(domain_url(&created), "https://a.up.railway.app");
        assert_eq!(domain_url(&existing), "https://a.up.railway.app");
        assert_eq!(domain_url(&serde_json::json!({"domains": []})), "");
    }

    #[test]
    fn json_after_a_progress_line_is_read() {
        let out = Out {
            ran: true,
            ok: true,
            stdout: "Uploading...\n{\"deploymentId\": \"d1\"}\n".to_owned(),
            stderr: String::new(),
        };
        let json = parse_json(&Call::Status, &out).expect("json");
        assert_eq!(str_at(&json, &["deploymentId"]), "d1");
    }

    #[test]
    fn another_major_version_is_flagged() {
        assert_eq!(check_version("railway 5.43.1\n"), VersionCheck::Same);
        assert_eq!(
            check_version("railway 5.71.0"),
            VersionCheck::Compatible("5.71.0".to_owned())
        );
        assert_eq!(
            check_version("railway 4.11.0"),
            VersionCheck::OtherMajor("4.11.0".to_owned())
        );
        assert!(matches!(check_version("?"), VersionCheck::Unreadable(_)));
    }
}
