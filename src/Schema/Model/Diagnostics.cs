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
