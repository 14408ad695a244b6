namespace Reconciler.Diff.Planning;

/// <summary>
/// Precedence of two plain release versions (MAJOR.MINOR.PATCH, no pre-release, no build metadata), the versions
/// nearly every plan compares, without the Semver library: its first use costs a static initializer of tens of
/// milliseconds of CPU, which is a visible share of a short `plan` or `apply` (docs/benchmarks.md). Hand-written
/// because it is a fast path of one call: <see cref="ServiceClassifier.CompareVersions"/> is its seam, every other
/// version goes to Semver, and PlainVersionTests holds the two to the same answers.
/// </summary>
internal static class PlainVersion
{
    /// <summary>-1, 0 or 1 when both are plain versions with parts of at most 9 digits; null otherwise.</summary>
    public static int? TryCompare(string a, string b)
    {
        if (!TryParse(a, out var x) || !TryParse(b, out var y)) return null;
        var byMajor = x.Major.CompareTo(y.Major);
        if (byMajor != 0) return Math.Sign(byMajor);
        var byMinor = x.Minor.CompareTo(y.Minor);
        return byMinor != 0 ? Math.Sign(byMinor) : Math.Sign(x.Patch.CompareTo(y.Patch));
    }

    private static bool TryParse(string text, out (int Major, int Minor, int Patch) version)
    {
        version = default;
        var rest = text.AsSpan();
        if (!TryPart(ref rest, last: false, out var major) || !TryPart(ref rest, last: false, out var minor) ||
            !TryPart(ref rest, last: true, out var patch))
            return false;
        version = (major, minor, patch);
        return true;
    }

    /// <summary>One numeric part: ASCII digits, no leading zero (semver 2.0 item 2), followed by '.' or, for the last
    /// part, the end of the text.</summary>
    private static bool TryPart(ref ReadOnlySpan<char> rest, bool last, out int value)
    {
        value = 0;
        var digits = 0;
        while (digits < rest.Length && char.IsAsciiDigit(rest[digits])) digits++;
        if (digits is 0 or > 9 || (digits > 1 && rest[0] == '0')) return false;
        foreach (var c in rest[..digits]) value = value * 10 + (c - '0');
        rest = rest[digits..];
        if (last) return rest.IsEmpty;
        if (rest.IsEmpty || rest[0] != '.') return false;
        rest = rest[1..];
        return true;
    }
}
