using System.CommandLine;
using System.Globalization;
using Reconciler.Git;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;

namespace Reconciler.Cli;

/// <summary>`reconciler validate [--repo DIR] [--rev REV] [--format text|json] [--no-cache]` (docs/cli/validate.md).
/// Exit 0 when there is no error (warnings allowed), 1 when the repo is invalid or cannot be read.</summary>
internal static class ValidateCommand
{
    public static Command Build()
    {
        var repo = new Option<string>("--repo")
        {
            Description = "The infra repo directory (holds reconciler.yaml); may be a subdirectory of a Git repository.",
            DefaultValueFactory = _ => ".",
        };
        var rev = new Option<string?>("--rev")
        {
            Description = "Validate this commit (SHA, short SHA, branch, tag, HEAD~1) read from Git objects; default: the files on disk, uncommitted edits included.",
        };
        var format = new Option<string>("--format")
        {
            Description = "text: file:line:col lines and a summary; json: an array for CI annotations.",
            DefaultValueFactory = _ => "text",
        };
        format.AcceptOnlyFromAmong("text", "json");
        var noCache = new Option<bool>("--no-cache")
        {
            Description = "Parse every file instead of reusing parse results from .reconciler/cache/parse.",
        };

        var command = new Command("validate", "Check the infra repo: YAML syntax, schemas and cross-file rules, with file:line:col for each error.");
        command.Options.Add(repo);
        command.Options.Add(rev);
        command.Options.Add(format);
        command.Options.Add(noCache);
        command.SetAction((parse, ct) =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            return CliRunner.RunAsync(stderr, async () =>
            {
                var repoArg = parse.GetValue(repo)!;
                using var infra = InfraRepo.Open(repoArg, parse.GetValue(rev));
                FileParseCache? cache = parse.GetValue(noCache) ? null : new FileParseCache(FileParseCache.DefaultDirectory(infra.Directory));
                var result = RepoLoader.Load(infra.Source, cache, CoreParallelism.Load);
                cache?.Flush();

                var errors = result.Diagnostics.Count(d => d.Severity == Severity.Error);
                if (result.Model is null && errors == 0)
                    throw new InvalidOperationException("the loader returned no model and no error");
                if (parse.GetValue(format) == "json")
                {
                    var prefix = infra.GitSubdirectory == "" ? "" : infra.GitSubdirectory + "/";
                    await stdout.WriteAsync(ValidateOutput.Json(result.Diagnostics, prefix));
                }
                else
                {
                    await stdout.WriteAsync(ValidateOutput.Text(result.Diagnostics, DisplayPrefix(repoArg), Summary(result, infra)));
                }
                return result.HasErrors ? ExitCodes.Error : ExitCodes.Ok;
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

    private static string Summary(LoadResult result, InfraRepo infra)
    {
        var errors = result.Diagnostics.Count(d => d.Severity == Severity.Error);
        var warnings = result.Diagnostics.Count(d => d.Severity == Severity.Warning);
        var where = $"{Count(result.Stats.Files, "file")} {infra.Describe()}";
        if (result.HasErrors)
            return $"invalid: {Count(errors, "error")}, {Count(warnings, "warning")}; {where}";
        var m = result.Model!;
        return $"valid{(warnings > 0 ? $" with {Count(warnings, "warning")}" : "")}: {Count(m.Services.Count, "service")}, " +
               $"{Count(m.Environments.Count, "environment")}, {Count(m.Toggles.Count, "toggle")}; {where}";
    }

    private static string Count(int n, string noun) =>
        n.ToString(CultureInfo.InvariantCulture) + " " + (n == 1 ? noun : noun + "s");
}
