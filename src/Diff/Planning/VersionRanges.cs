using System.Diagnostics.CodeAnalysis;
using Semver;

namespace Reconciler.Diff.Planning;

/// <summary>How a toggle's `requires` range is read, in one place: by the planner (when a toggle may switch) and by
/// the toggle catalog (whether a requirement is met by what runs).</summary>
public static class VersionRanges
{
    public static bool TryParse(string range, [NotNullWhen(true)] out SemVersionRange? parsed) =>
        SemVersionRange.TryParse(range, SemVersionRangeOptions.Loose, out parsed) || SemVersionRange.TryParseNpm(range, out parsed);

    /// <returns>null when the range or the version cannot be read (validation refuses such ranges; a live version
    /// written by hand may still be odd).</returns>
    public static bool? Satisfies(string version, string range) =>
        TryParse(range, out var parsed) && SemVersion.TryParse(version, SemVersionStyles.Strict, out var v) ? v.Satisfies(parsed) : null;
}
