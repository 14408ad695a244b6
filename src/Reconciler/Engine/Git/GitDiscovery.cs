using LibGit2Sharp;

namespace Reconciler.Git;

/// <summary>
/// Finds the Git repository that holds a directory, as <c>git</c> and libgit2's <c>git_repository_discover</c> do:
/// from the directory upwards, first <c>DIR/.git</c> (a directory, or a file saying <c>gitdir: PATH</c> as in a
/// worktree or submodule), then <c>DIR</c> itself (a bare repository). Whether a candidate is a repository is still
/// libgit2's answer (<see cref="Repository.IsValid"/>).
/// Written by hand because LibGit2Sharp's <see cref="Repository.Discover"/> returns nothing in the Native AOT build:
/// the path comes back in a <c>git_buf</c> marshalled as a class, which AOT marshals in only (libgit2sharp #2187,
/// fix open as #2188). <c>GitDiscoveryTests</c> holds this to <see cref="Repository.Discover"/> on each layout.
/// One difference is deliberate: it does not stop at a file-system boundary (git's GIT_DISCOVERY_ACROSS_FILESYSTEM).
/// </summary>
public static class GitDiscovery
{
    /// <summary>The Git directory (".git", a worktree's gitdir or a bare repository) holding
    /// <paramref name="directory"/>, with a trailing separator; null when there is none.</summary>
    public static string? Find(string directory)
    {
        for (var dir = new DirectoryInfo(Path.GetFullPath(directory)); dir is not null; dir = dir.Parent)
        {
            var dotGit = Path.Combine(dir.FullName, ".git");
            if (Directory.Exists(dotGit))
            {
                if (Repository.IsValid(dotGit)) return WithSeparator(dotGit);
            }
            else if (File.Exists(dotGit) && GitFileTarget(dotGit) is { } linked && Repository.IsValid(linked))
            {
                return WithSeparator(linked);
            }
            // A bare repository is the directory itself; a work tree's own .git was tried first.
            if (IsBareLayout(dir.FullName) && Repository.IsValid(dir.FullName)) return WithSeparator(dir.FullName);
        }
        return null;
    }

    /// <summary>The directory a ".git" file points at ("gitdir: PATH", relative to the file's directory).</summary>
    private static string? GitFileTarget(string gitFile)
    {
        string firstLine;
        try
        {
            using var reader = new StreamReader(gitFile);
            firstLine = reader.ReadLine() ?? "";
        }
        catch (IOException)
        {
            return null;
        }
        const string prefix = "gitdir:";
        if (!firstLine.StartsWith(prefix, StringComparison.Ordinal)) return null;
        var target = firstLine[prefix.Length..].Trim();
        return target.Length == 0 ? null : Path.GetFullPath(target, Path.GetDirectoryName(gitFile)!);
    }

    // Without HEAD nothing is a repository; checking it first keeps libgit2 out of every ordinary directory on the way up.
    private static bool IsBareLayout(string directory) => File.Exists(Path.Combine(directory, "HEAD"));

    private static string WithSeparator(string path)
    {
        var full = Path.GetFullPath(path);
        return Path.EndsInDirectorySeparator(full) ? full : full + Path.DirectorySeparatorChar;
    }
}
