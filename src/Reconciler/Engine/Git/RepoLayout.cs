namespace Reconciler.Git;

/// <summary>Which files of a directory or tree belong to the infra repo (docs/format.md): reconciler.yaml and
/// the *.yaml files directly under environments/, services/ and toggles/. Everything else (artifacts, app code,
/// READMEs, schemas) is never read.</summary>
internal static class RepoLayout
{
    public const string RootFile = "reconciler.yaml";

    public static readonly string[] Folders = ["environments", "services", "toggles"];

    public static bool IsYamlName(string name) => name.EndsWith(".yaml", StringComparison.Ordinal) && name.Length > ".yaml".Length;

    /// <summary>True for a path (relative to the infra repo) that a Git source lists: reconciler.yaml, or a YAML file
    /// directly under one of the <see cref="Folders"/>.</summary>
    public static bool IsListed(string path) => path == RootFile || Folders.Any(f =>
        path.Length > f.Length + 1 && path.StartsWith(f, StringComparison.Ordinal) && path[f.Length] == '/'
        && path.IndexOf('/', f.Length + 1) < 0 && IsYamlName(path[(f.Length + 1)..]));

    /// <summary>A symlinked infra file would read differently from Git (the link text) and from disk (the target),
    /// so both sources refuse it the same way; the loader reports the message at the file (rule file.read).</summary>
    public static IOException SymlinkRefused(string path) =>
        new($"{path} is a symbolic link; the infra repo reads files only. Replace the link with the file itself");

    /// <summary>"a/b/" from a path relative to a repository's working directory; "" for the root.</summary>
    public static string ToTreePrefix(string relative)
    {
        var p = relative.Replace('\\', '/').Trim('/');
        return p is "" or "." ? "" : p + "/";
    }
}
