using System.CommandLine;
using Reconciler.UseCases;
using Reconciler.Views;

namespace Reconciler.Cli;

/// <summary>`reconciler validate [--repo DIR] [--rev REV] [--format text|json|github] [--no-cache]` (docs/cli/validate.md).
/// Exit 0 when there is no error (warnings allowed), 1 when the repo is invalid or cannot be read.</summary>
internal static class ValidateCommand
{
    public static Command Build()
    {
        var command = new Command("validate", "Check the infra repo: YAML syntax, schemas and cross-file rules, with file:line:col for each error.");
        var common = new CommonOptions(command);
        common.AddRepo("The infra repo directory (holds reconciler.yaml); may be a subdirectory of a Git repository.");
        common.AddRev("Validate this commit (SHA, short SHA, branch, tag, HEAD~1) read from Git objects; default: the files on disk, uncommitted edits included.");
        common.AddFormat("text: file:line:col lines and a summary; json: an array for CI annotations; github: GitHub Actions annotations (::error file=...,line=...,col=...::).",
            "text", "json", "github");
        var noCache = new Option<bool>("--no-cache")
        {
            Description = "Parse every file instead of reusing parse results from .reconciler/cache/parse.",
        };
        command.Options.Add(noCache);
        command.SetAction((parse, ct) =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            return CliRunner.RunAsync(stderr, async () =>
            {
                var args = common.Read(parse);
                var result = ValidateRepo.Run(new ValidateRequest(args.Repo, args.Rev, UseParseCache: !parse.GetValue(noCache)));
                if (!result.Succeeded) return await CliRunner.FailAsync(stderr, result);
                var report = result.Value;
                var gitPrefix = report.GitSubdirectory == "" ? "" : report.GitSubdirectory + "/";
                await stdout.WriteAsync(args.Format switch
                {
                    "json" => ValidateOutput.Json(report.Diagnostics, gitPrefix),
                    "github" => ValidateOutput.Github(report.Diagnostics, gitPrefix, ValidateOutput.Summary(report)),
                    _ => ValidateOutput.Text(report.Diagnostics, DisplayPrefix(args.Repo), ValidateOutput.Summary(report)),
                });
                return report.Outcome;
            });
        });
        return command;
    }

    /// <summary>The --repo argument as typed, so printed paths resolve from the current directory.</summary>
    internal static string DisplayPrefix(string repoArgument)
    {
        var p = repoArgument.Replace('\\', '/').TrimEnd('/');
        while (p.StartsWith("./", StringComparison.Ordinal)) p = p[2..];
        return p is "" or "." ? "" : p + "/";
    }
}
