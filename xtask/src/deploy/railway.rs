//! The Railway CLI driver: every call is `railway ... --json` where the CLI offers JSON, run
//! through `Exec` (so a dry run prints it). Failures are turned into what to do.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde_json::Value;

use super::exec::{Exec, Out};

/// A linked project as `railway status --json` describes it.
#[derive(Debug, Default)]
pub struct Project {
    pub id: String,
    pub name: String,
    /// service name -> service id
    pub services: BTreeMap<String, String>,
}

/// The latest deployment of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub id: String,
    pub status: String,
}

#[derive(Debug)]
pub struct Cli<'a> {
    exec: &'a Exec,
}

impl<'a> Cli<'a> {
    pub fn new(exec: &'a Exec) -> Self {
        Self { exec }
    }

    fn run(&self, args: &[&str]) -> anyhow::Result<Out> {
        self.exec.run("railway", args)
    }

    /// Runs a command that must succeed; its output parsed as JSON (Null in a dry run).
    fn json(&self, args: &[&str]) -> anyhow::Result<Value> {
        let out = self.must(args)?;
        if !out.ran {
            return Ok(Value::Null);
        }
        serde_json::from_str(out.stdout.trim()).with_context(|| {
            format!(
                "railway {} printed no JSON: {}",
                args.join(" "),
                out.stdout.trim()
            )
        })
    }

    fn must(&self, args: &[&str]) -> anyhow::Result<Out> {
        let out = self.run(args)?;
        if out.ran && !out.ok {
            bail!(
                "railway {} failed: {}{}",
                args.join(" "),
                out.message(),
                advice(&out.message())
            );
        }
        Ok(out)
    }

    /// The CLI is installed and logged in; returns who is logged in.
    pub fn preflight(&self) -> anyhow::Result<String> {
        let version = self.exec.run("railway", &["--version"]);
        match version {
            Err(_) => bail!(
                "the Railway CLI is not installed: install it (npm install -g @railway/cli, or \
                 brew install railway, or cargo install railwayapp --locked), then run \
                 `railway login`"
            ),
            Ok(out) if out.ran && !out.ok => bail!("`railway --version` failed: {}", out.message()),
            Ok(_) => {}
        }
        let out = self.run(&["whoami", "--json"])?;
        if !out.ran {
            return Ok(String::new());
        }
        if !out.ok {
            bail!(
                "the Railway CLI is not logged in ({}): run `railway login` (or set \
                 RAILWAY_API_TOKEN to an account token), then re-run",
                out.message()
            );
        }
        let who: Value = serde_json::from_str(out.stdout.trim()).unwrap_or(Value::Null);
        Ok(who
            .get("email")
            .or_else(|| who.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned())
    }

    /// The linked project, or None when this directory is linked to none.
    pub fn status(&self) -> anyhow::Result<Option<Project>> {
        let out = self.run(&["status", "--json"])?;
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
        let json: Value = serde_json::from_str(out.stdout.trim())
            .context("railway status --json printed no JSON")?;
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

    pub fn init(&self, name: &str) -> anyhow::Result<()> {
        self.must(&["init", "--name", name, "--json"]).map(|_| ())
    }

    pub fn link(&self, project: &str) -> anyhow::Result<()> {
        self.must(&["link", "--project", project, "--json"])
            .map(|_| ())
    }

    pub fn add_redis(&self) -> anyhow::Result<()> {
        self.must(&["add", "--database", "redis", "--json"])
            .map(|_| ())
    }

    /// An empty service; its source is the `railway up` upload of this checkout.
    pub fn add_service(&self, name: &str) -> anyhow::Result<()> {
        self.must(&["add", "--service", name, "--json"]).map(|_| ())
    }

    pub fn variables(&self, service: &str) -> anyhow::Result<BTreeMap<String, String>> {
        let json = self.json(&["variables", "--service", service, "--json"])?;
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
        let mut args = vec![
            "variables".to_owned(),
            "--service".to_owned(),
            service.to_owned(),
        ];
        for (k, v) in vars {
            args.push("--set".to_owned());
            args.push(format!("{k}={v}"));
        }
        args.push("--skip-deploys".to_owned());
        args.push("--json".to_owned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.must(&refs).map(|_| ())
    }

    /// The environment's configuration (`services.<service id>.build|deploy...`).
    pub fn environment_config(&self) -> anyhow::Result<Value> {
        self.json(&["environment", "config", "--json"])
    }

    /// One service setting, by dot path (e.g. deploy.healthcheckPath); values that are not
    /// strings are passed as JSON.
    pub fn set_service_config(
        &self,
        service: &str,
        path: &str,
        value: &Value,
    ) -> anyhow::Result<()> {
        let value = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        self.must(&[
            "environment",
            "edit",
            "--service-config",
            service,
            path,
            &value,
            "--json",
        ])
        .map(|_| ())
    }

    /// Uploads this checkout and deploys it to the service, without following the build (the
    /// caller polls the deployment, with its own timeout).
    pub fn up(&self, service: &str) -> anyhow::Result<()> {
        self.must(&["up", "--service", service, "--detach"])
            .map(|_| ())
    }

    pub fn latest_deployment(&self, service: &str) -> anyhow::Result<Option<Deployment>> {
        let json = self.json(&[
            "deployment",
            "list",
            "--service",
            service,
            "--limit",
            "1",
            "--json",
        ])?;
        let first = match &json {
            Value::Array(items) => items.first(),
            _ => None,
        };
        Ok(first.map(|d| Deployment {
            id: str_at(d, &["id"]),
            status: str_at(d, &["status"]).to_ascii_uppercase(),
        }))
    }

    /// The last `lines` lines of a service's deploy logs (or, with `build`, of a deployment's
    /// build logs), as printed.
    pub fn logs(
        &self,
        service: &str,
        deployment: Option<&str>,
        build: bool,
    ) -> anyhow::Result<String> {
        let mut args = vec!["logs"];
        if let Some(id) = deployment {
            args.push(id);
        }
        args.extend(["--service", service]);
        if build {
            args.push("--build");
        }
        args.extend(["--lines", "500", "--json"]);
        let out = self.must(&args)?;
        Ok(out.stdout)
    }

    /// The service's public URL; `railway domain` creates a Railway domain when it has none.
    pub fn domain(&self, service: &str) -> anyhow::Result<String> {
        let json = self.json(&["domain", "--service", service, "--json"])?;
        let domain = ["domain", "url"]
            .iter()
            .find_map(|k| json.get(*k).and_then(Value::as_str))
            .unwrap_or_default();
        if domain.is_empty() {
            return Ok(String::new());
        }
        Ok(if domain.contains("://") {
            domain.trim_end_matches('/').to_owned()
        } else {
            format!("https://{}", domain.trim_end_matches('/'))
        })
    }

    /// Runs a local program with the service's variables (`railway run`).
    pub fn run_with_service(
        &self,
        service: &str,
        program: &str,
        args: &[&str],
    ) -> anyhow::Result<Out> {
        let mut all = vec!["run", "--service", service, "--", program];
        all.extend_from_slice(args);
        self.run(&all)
    }
}

/// What to do about a CLI failure, when its message says.
fn advice(message: &str) -> &'static str {
    let lower = message.to_ascii_lowercase();
    if lower.contains("unauthorized") || lower.contains("not logged in") || lower.contains("login")
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
