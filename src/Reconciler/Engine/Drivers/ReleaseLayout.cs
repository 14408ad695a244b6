using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Reconciler.Drivers;

/// <summary>
/// The on-host layout every file driver uses, and the strict patterns that every value going into a path or a
/// shell command is checked against again here (the schema checks them first; this is defence in depth):
/// <code>
/// DEPLOY/releases/ID/              one release: the artifact's contents + config.json + .env + .reconciler-release
/// DEPLOY/releases/.tmp-ID.NONCE/   a release being unpacked; renamed to releases/ID only when complete
/// DEPLOY/current -> releases/ID    relative symlink, switched by creating .current.tmp.NONCE and renaming it over
/// DEPLOY/.artifacts/SHA256.tar.gz  uploaded artifacts (ssh), so a config-only change uploads nothing
/// DEPLOY/.restart.log              output of the last restart/stop command
/// </code>
/// ID is "VERSION-CONFIGHASH10" (ServiceFields.ReleaseId). A release counts as present only when its marker file
/// (.reconciler-release, written last before the rename) names the expected artifact checksum.
/// </summary>
public static partial class ReleaseLayout
{
    public const string ReleasesDir = "releases";
    public const string CurrentLink = "current";
    public const string ArtifactsDir = ".artifacts";
    public const string MarkerFile = ".reconciler-release";
    public const string ConfigJsonFile = "config.json";
    public const string EnvFile = ".env";
    public const string RestartLog = ".restart.log";

    // Semver-ish version + "-" + 10 hex; first char alphanumeric so it can never be "." or ".." or an option.
    [GeneratedRegex("^[0-9A-Za-z][0-9A-Za-z.+_-]{0,127}$", RegexOptions.CultureInvariant)]
    private static partial Regex ReleaseIdPattern();

    // Absolute, only safe characters, no empty/"."/".." segments, no trailing slash.
    [GeneratedRegex("^(/[A-Za-z0-9_][A-Za-z0-9._-]{0,127})+$", RegexOptions.CultureInvariant)]
    private static partial Regex DeployPathPattern();

    [GeneratedRegex("^[0-9a-f]{64}$", RegexOptions.CultureInvariant)]
    private static partial Regex Sha256Pattern();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_.-]{0,127}$", RegexOptions.CultureInvariant)]
    private static partial Regex ConfigKeyPattern();

    public static bool IsValidReleaseId(string id) => ReleaseIdPattern().IsMatch(id) && !id.Contains("..", StringComparison.Ordinal);

    public static bool IsValidDeployPath(string path) =>
        DeployPathPattern().IsMatch(path) && !path.Split('/').Any(s => s is "." or "..");

    public static bool IsValidSha256(string sha) => Sha256Pattern().IsMatch(sha);

    public static bool IsValidConfigKey(string key) => ConfigKeyPattern().IsMatch(key);

    public static string CheckReleaseId(string host, string step, string id) =>
        IsValidReleaseId(id) ? id
        : throw new HostStepException(host, step, $"refusing unsafe release id '{Printable(id)}' (allowed: letters, digits, '.', '+', '_', '-'; no '..')");

    public static string CheckDeployPath(string host, string step, string path) =>
        IsValidDeployPath(path) ? path
        : throw new HostStepException(host, step,
            $"refusing unsafe deploy path '{Printable(path)}' (must be absolute, segments of letters, digits, '.', '_', '-', no '..')");

    public static string CheckSha256(string host, string step, string sha) =>
        IsValidSha256(sha) ? sha
        : throw new HostStepException(host, step, $"refusing artifact checksum '{Printable(sha)}' (expected 64 lowercase hex digits)");

    /// <summary>Path of a release below the deploy root ("releases/ID"), as the current link stores it.</summary>
    public static string ReleaseLinkTarget(string releaseId) => $"{ReleasesDir}/{releaseId}";

    /// <summary>The release id a `current` link target names, or null when it points anywhere else.</summary>
    public static string? ReleaseIdFromLinkTarget(string? target)
    {
        if (string.IsNullOrEmpty(target)) return null;
        var t = target.TrimEnd('/');
        var prefix = ReleasesDir + "/";
        if (!t.StartsWith(prefix, StringComparison.Ordinal)) return null;
        var id = t[prefix.Length..];
        return IsValidReleaseId(id) ? id : null;
    }

    /// <summary>Version part of a release id ("1.5.0-rc.1-0123456789" -> "1.5.0-rc.1").</summary>
    public static string VersionOf(string releaseId)
    {
        var dash = releaseId.LastIndexOf('-');
        return dash > 0 && releaseId.Length - dash - 1 == 10 ? releaseId[..dash] : releaseId;
    }

    /// <summary>Contents of the marker file; the artifact checksum line is what "present" is checked against.</summary>
    public static string Marker(string service, string releaseId, string sha256) =>
        $"service={service}\nrelease={releaseId}\nsha256={sha256}\n";

    public static string? MarkerValue(string marker, string key)
    {
        foreach (var line in marker.Split('\n'))
            if (line.StartsWith(key + "=", StringComparison.Ordinal)) return line[(key.Length + 1)..];
        return null;
    }

    /// <summary>Which releases to delete so that <paramref name="keep"/> remain: the current release and every id in
    /// <paramref name="protect"/> (the executor passes the current and the previous release) are kept first, then the
    /// newest others (by stage time) fill what is left of <paramref name="keep"/>. Protected releases are never deleted,
    /// even when they alone are more than <paramref name="keep"/>. After a rollback the newest releases are the failed
    /// ones, so they go rather than the releases a further rollback needs.</summary>
    public static ImmutableArray<string> ReleasesToPrune(IEnumerable<StagedRelease> releases, string? current, int keep,
        ImmutableArray<string> protect)
    {
        var newestFirst = releases
            .OrderByDescending(r => r.StagedAt)
            .ThenByDescending(r => r.Id, StringComparer.Ordinal)
            .ToList();
        var kept = new HashSet<string>(protect.IsDefault ? [] : protect, StringComparer.Ordinal);
        if (current is not null) kept.Add(current);
        var present = kept.Count(id => newestFirst.Any(r => r.Id == id));
        foreach (var r in newestFirst.Where(r => !kept.Contains(r.Id)).Take(Math.Max(keep - present, 0)).ToList()) kept.Add(r.Id);
        return [.. newestFirst.Where(r => !kept.Contains(r.Id)).Select(r => r.Id).Order(StringComparer.Ordinal)];
    }

    /// <summary>Strips control characters from a value echoed in an error message.</summary>
    public static string Printable(string s) =>
        string.Concat(s.Take(200).Select(c => char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString(CultureInfo.InvariantCulture)));
}

/// <summary>A complete release on a host and when it was staged (its directory's modification time).</summary>
public sealed record StagedRelease(string Id, DateTimeOffset StagedAt, string? ArtifactSha256);
