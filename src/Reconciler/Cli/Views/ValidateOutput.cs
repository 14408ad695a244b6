using System.Globalization;
using System.Text.Json;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.UseCases;

namespace Reconciler.Views;

/// <summary>
/// Renders validation diagnostics (docs/cli/validate.md): `validate`'s output, and the diagnostics of a repo that
/// another command refused to use. Text: one line per diagnostic,
/// <c>file:line:col: error RULE: message</c>, then a summary line. JSON: an array of <see cref="JsonDiagnostic"/>,
/// stable and meant for CI annotations. Diagnostics are sorted by file, line, column, rule, message.
/// </summary>
public static class ValidateOutput
{
    /// <param name="displayPrefix">Prepended to every file path in text output (the --repo argument as typed, so
    /// paths are relative to the current directory and clickable); "" when --repo is ".".</param>
    public static string Text(IEnumerable<Diagnostic> diagnostics, string displayPrefix, string summary)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var d in Sort(diagnostics))
        {
            sb.Append(d.Location is { } l ? $"{displayPrefix}{l.File}:{l.Line}:{l.Column}" : (displayPrefix == "" ? "." : displayPrefix.TrimEnd('/')));
            sb.Append(": ").Append(d.Severity == Severity.Error ? "error" : "warning");
            sb.Append(' ').Append(d.RuleId).Append(": ").Append(d.Message);
            if (d.JsonPointer is { } pointer) sb.Append(" (at ").Append(pointer == "" ? "/" : pointer).Append(')');
            sb.Append('\n');
        }
        sb.Append(summary).Append('\n');
        return sb.ToString();
    }

    /// <param name="gitPrefix">The infra repo's path inside its Git repository ("" or "a/b/"): JSON <c>file</c> is
    /// relative to the Git repository root, which is what CI annotation APIs expect.</param>
    public static string Json(IEnumerable<Diagnostic> diagnostics, string gitPrefix)
    {
        var items = Sort(diagnostics).Select(d => new JsonDiagnostic(
            File: d.Location is { } l ? gitPrefix + l.File : null,
            Line: d.Location?.Line,
            Column: d.Location?.Column,
            Severity: d.Severity == Severity.Error ? "error" : "warning",
            Rule: d.RuleId,
            Message: d.Message,
            Pointer: d.JsonPointer)).ToList();
        return JsonView.Render(items);
    }

    /// <summary>
    /// GitHub Actions workflow commands, one per diagnostic, so each shows as an annotation on the file and line of the
    /// pull request: <c>::error file=F,line=L,col=C,title=RULE::MESSAGE</c> (<c>::warning</c> for warnings; no file for a
    /// repo-wide finding), then the summary line. Paths are relative to the Git repository root, as for JSON. Values are
    /// escaped as the runner expects (% CR LF in the message; also : and , in properties), so a message cannot end the
    /// command or start another.
    /// </summary>
    public static string Github(IEnumerable<Diagnostic> diagnostics, string gitPrefix, string summary)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var d in Sort(diagnostics))
        {
            sb.Append("::").Append(d.Severity == Severity.Error ? "error" : "warning").Append(' ');
            if (d.Location is { } l)
                sb.Append("file=").Append(Property(gitPrefix + l.File)).Append(",line=").Append(l.Line).Append(",col=").Append(l.Column).Append(',');
            sb.Append("title=").Append(Property(d.RuleId)).Append("::");
            var message = d.JsonPointer is { } pointer ? $"{d.Message} (at {(pointer == "" ? "/" : pointer)})" : d.Message;
            sb.Append(Data(message)).Append('\n');
        }
        return sb.Append(summary).Append('\n').ToString();
    }

    private static string Data(string s) =>
        s.Replace("%", "%25", StringComparison.Ordinal).Replace("\r", "%0D", StringComparison.Ordinal).Replace("\n", "%0A", StringComparison.Ordinal);

    private static string Property(string s) =>
        Data(s).Replace(":", "%3A", StringComparison.Ordinal).Replace(",", "%2C", StringComparison.Ordinal);

    /// <summary>`validate`'s summary line: "valid: 3 services, 2 environments, 1 toggle; 15 files at commit ..." or
    /// "invalid: 1 error, 0 warnings; ...".</summary>
    public static string Summary(ValidationReport r)
    {
        var where = $"{Count(r.Files, "file")} {r.Where}";
        if (r.HasErrors)
            return $"invalid: {Count(r.Errors, "error")}, {Count(r.Warnings, "warning")}; {where}";
        return $"valid{(r.Warnings > 0 ? $" with {Count(r.Warnings, "warning")}" : "")}: {Count(r.Services, "service")}, " +
               $"{Count(r.Environments, "environment")}, {Count(r.Toggles, "toggle")}; {where}";
    }

    /// <summary>The diagnostics of a repo that a command refused to use, with paths from <paramref name="repoArgument"/>
    /// (--repo as typed), and "N error(s) WHERE; <paramref name="notDone"/>.".</summary>
    public static string InvalidRepo(InvalidRepo repo, string repoArgument, string notDone)
    {
        var prefix = repoArgument is "." or "./" ? "" : repoArgument.TrimEnd('/') + "/";
        return Text(repo.Diagnostics, prefix, $"{repo.Errors} error(s) {repo.Where}; {notDone}.");
    }

    private static string Count(int n, string noun) =>
        n.ToString(CultureInfo.InvariantCulture) + " " + (n == 1 ? noun : noun + "s");

    public static IEnumerable<Diagnostic> Sort(IEnumerable<Diagnostic> diagnostics) => DiagnosticOrdering.Sort(diagnostics);

    /// <summary>One element of `validate --format json`. Absent members: no location (a repo-wide finding) or no
    /// JSON pointer (not a schema violation).</summary>
    public sealed record JsonDiagnostic(
        string? File,
        int? Line,
        int? Column,
        string Severity,
        string Rule,
        string Message,
        string? Pointer);
}
