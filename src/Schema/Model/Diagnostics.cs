namespace Reconciler.Schema.Model;

/// <summary>A position in a file of the infra repo: 1-based line and column, path relative to the repo root with '/'.</summary>
public sealed record SourceLocation(string File, int Line, int Column) : IComparable<SourceLocation>
{
    public override string ToString() => $"{File}:{Line}:{Column}";

    public int CompareTo(SourceLocation? other)
    {
        if (other is null) return 1;
        var c = string.CompareOrdinal(File, other.File);
        if (c != 0) return c;
        c = Line.CompareTo(other.Line);
        return c != 0 ? c : Column.CompareTo(other.Column);
    }
}

public enum Severity { Error, Warning }

/// <summary>
/// One finding about the input. <see cref="RuleId"/> is stable (documented in docs/format.md), the message says
/// what is wrong and how to fix it. <see cref="JsonPointer"/> is set for schema violations.
/// </summary>
public sealed record Diagnostic(Severity Severity, string RuleId, string Message, SourceLocation? Location, string? JsonPointer = null)
{
    public override string ToString() =>
        $"{Location?.ToString() ?? "<repo>"}: {(Severity == Severity.Error ? "error" : "warning")} {RuleId}: {Message}" +
        (JsonPointer is null ? "" : $" (at {JsonPointer})");
}

/// <summary>The order diagnostics are shown in everywhere (validate, plan, the daemon's log): repo-wide findings
/// first, then by file, line, column, rule and message.</summary>
public static class DiagnosticOrdering
{
    public static IEnumerable<Diagnostic> Sort(IEnumerable<Diagnostic> diagnostics) =>
        diagnostics
            .OrderBy(d => d.Location is null ? 0 : 1)
            .ThenBy(d => d.Location?.File ?? "", StringComparer.Ordinal)
            .ThenBy(d => d.Location?.Line ?? 0)
            .ThenBy(d => d.Location?.Column ?? 0)
            .ThenBy(d => d.RuleId, StringComparer.Ordinal)
            .ThenBy(d => d.Message, StringComparer.Ordinal);
}
