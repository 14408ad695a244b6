using LibGit2Sharp;

namespace Reconciler.Git;

/// <summary>Which files of a directory or tree belong to the infra repo (docs/format.md): reconciler.yaml and
/// the *.yaml files directly under environments/, services/ and toggles/. Everything else (artifacts, app code,
/// READMEs, schemas) is never read. The other YAML files under those folders (in a subdirectory, or named .yml) are
/// listed too, never read: the loader warns that each is ignored (file.ignored), as a service file kept in
/// services/team/ would otherwise be missing without a word.</summary>
internal static class RepoLayout
{
    /// <summary>How deep under a folder the sources look for YAML files to warn about: bounded, as a folder could hold a
    /// large tree that is not the repo's.</summary>
    public const int IgnoredDepth = 4;

    public const string RootFile = "reconciler.yaml";

    public static readonly string[] Folders = ["environments", "services", "toggles"];

    public static bool IsYamlName(string name) => name.EndsWith(".yaml", StringComparison.Ordinal) && name.Length > ".yaml".Length;

    /// <summary>True for a path (relative to the infra repo) whose file is read: reconciler.yaml, or a .yaml file
    /// directly under one of the <see cref="Folders"/>.</summary>
    public static bool IsListed(string path) => path == RootFile || Folders.Any(f =>
        path.Length > f.Length + 1 && path.StartsWith(f, StringComparison.Ordinal) && path[f.Length] == '/'
        && path.IndexOf('/', f.Length + 1) < 0 && IsYamlName(path[(f.Length + 1)..]));

    /// <summary>The files a source lists from <paramref name="tree"/> (an infra repo's root): those read, and the YAML
    /// files under the folders that are not (in a subdirectory, or named .yml); services/ left out unless
    /// <paramref name="withServices"/>. Paths relative to the infra repo, '/'-separated.</summary>
    public static IEnumerable<(string Path, TreeEntry Entry)> Entries(Tree tree, bool withServices = true)
    {
        if (tree[RootFile] is { TargetType: TreeEntryTargetType.Blob } root) yield return (RootFile, root);
        foreach (var folder in Folders)
            if ((withServices || folder != "services") && tree[folder] is { TargetType: TreeEntryTargetType.Tree } entry)
                foreach (var file in Under(folder, (Tree)entry.Target, 0))
                    yield return file;
    }

    private static IEnumerable<(string Path, TreeEntry Entry)> Under(string directory, Tree tree, int depth)
    {
        foreach (var child in tree)
        {
            if (child.TargetType == TreeEntryTargetType.Blob && IsYamlFileName(child.Name))
                yield return (directory + "/" + child.Name, child);   // read when directly here and .yaml, else ignored
            else if (child.TargetType == TreeEntryTargetType.Tree && depth < IgnoredDepth)
                foreach (var file in Under(directory + "/" + child.Name, (Tree)child.Target, depth + 1))
                    yield return file;
        }
    }

    /// <summary>A name ending .yaml or .yml: read (<see cref="IsYamlName"/>) or warned about.</summary>
    public static bool IsYamlFileName(string name) =>
        IsYamlName(name) || name.EndsWith(".yml", StringComparison.Ordinal) && name.Length > ".yml".Length;

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
