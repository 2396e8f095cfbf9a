//! `bridge doctor [--json]`: prints the findings of [`crate::doctor::examine`], each failure with its fix; the
//! exit status is 1 when something keeps runs from working.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::config::Config;
use crate::doctor::{self, Outcome, Report};

/// Runs every check from the working directory and prints the report.
pub async fn doctor(config: Config, json: bool) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("finding the working directory")?;
    let report = doctor::examine(config, &cwd).await;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(if report.runs_work {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The report as text: one line per check (outcome, name, what was found, its time), the fix indented under it.
fn render(report: &Report) -> String {
    let width = report
        .checks
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for check in &report.checks {
        let mark = match check.outcome {
            Outcome::Ok => "ok  ",
            Outcome::Warn => "warn",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "skip",
        };
        let time = check
            .ms
            .map(|ms| format!(" [{ms:.0} ms]"))
            .unwrap_or_default();
        text.push_str(&format!(
            "{mark}  {:<width$}  {}{time}\n",
            check.name, check.detail
        ));
        if let Some(fix) = &check.fix {
            text.push_str(&format!("      {:<width$}  fix: {fix}\n", ""));
        }
    }
    let count = |outcome| {
        report
            .checks
            .iter()
            .filter(|c| c.outcome == outcome)
            .count()
    };
    let (failed, warned) = (count(Outcome::Fail), count(Outcome::Warn));
    text.push('\n');
    text.push_str(&match (failed, warned) {
        (0, 0) => "runs work; nothing to fix\n".to_string(),
        (0, w) => format!("runs work; {w} warning(s) above\n"),
        (f, _) => format!("runs cannot work until the {f} failure(s) above are fixed\n"),
    });
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Check;

    #[test]
    fn failures_come_with_their_fix_and_the_summary_counts_them() {
        let report = Report {
            runs_work: false,
            checks: vec![
                Check {
                    name: "engine".into(),
                    outcome: Outcome::Ok,
                    detail: "Docker 20.10".into(),
                    fix: None,
                    ms: None,
                },
                Check {
                    name: "image".into(),
                    outcome: Outcome::Fail,
                    detail: "img is not on the engine".into(),
                    fix: Some("build it".into()),
                    ms: Some(12.4),
                },
            ],
        };
        let text = render(&report);
        assert!(text.contains("ok    engine  Docker 20.10\n"), "{text}");
        assert!(
            text.contains("FAIL  image   img is not on the engine [12 ms]\n"),
            "{text}"
        );
        assert!(text.contains("              fix: build it\n"), "{text}");
        assert!(
            text.ends_with("until the 1 failure(s) above are fixed\n"),
            "{text}"
        );
    }
}
