using LibGit2Sharp;

namespace Reconciler.Git;

public sealed record RevertResult(string NewSha, string RevertedSha, string Branch, string Message);

/// <summary>
/// `reconciler revert`: writes the revert commit of a deployed commit onto the checked-out branch, ready to push.
/// The working tree must be clean (so that a conflicting revert can be undone with a hard reset without losing work).
/// </summary>
public static class GitRevert
{
    public static RevertResult Revert(string repoPath, string sha, string? message, int? mainline, DateTimeOffset now)
    {
        var root = GitDiscovery.Find(repoPath)
            ?? throw new ReconcilerException(FailureKind.InvalidInput, $"'{repoPath}' is not a Git repository. Run revert inside your clone of the infra repo, or pass --repo PATH.");
        using var repo = new Repository(root);
        if (repo.Info.IsBare)
            throw new ReconcilerException(FailureKind.InvalidInput, $"{root} is a bare repository; revert needs a working tree. Run it in a clone.");

        Commit target;
        try
        {
            target = repo.Lookup<Commit>(sha) ?? throw new ReconcilerException(FailureKind.InvalidInput, 
                $"commit '{sha}' is not in {repo.Info.WorkingDirectory}. Check the SHA (`git log`), or fetch first.");
        }
        catch (AmbiguousSpecificationException)
        {
            throw new ReconcilerException(FailureKind.InvalidInput, $"'{sha}' matches more than one object; give more characters of the SHA.");
        }
        if (repo.Head.Tip is null)
            throw new ReconcilerException(FailureKind.InvalidInput, "the repository has no commits on the current branch.");
        if (repo.Info.IsHeadDetached)
            throw new ReconcilerException(FailureKind.InvalidInput, "HEAD is detached. Check out the branch you deploy from (e.g. `git switch main`), then run revert again.");

        var parents = target.Parents.Count();
        if (parents > 1 && mainline is null)
            throw new ReconcilerException(FailureKind.InvalidInput, $"{Short(target.Sha)} is a merge commit with {parents} parents. Say which parent is the mainline " +
                                "(usually 1, the branch that was merged into): --mainline 1.");
        if (parents <= 1 && mainline is not null)
            throw new ReconcilerException(FailureKind.InvalidInput, $"--mainline is only for merge commits; {Short(target.Sha)} has {parents} parent(s). Leave it out.");
        if (mainline is { } m && (m < 1 || m > parents))
            throw new ReconcilerException(FailureKind.InvalidInput, $"--mainline {m} is out of range: {Short(target.Sha)} has {parents} parents (1..{parents}).");

        var status = repo.RetrieveStatus(new StatusOptions { IncludeUntracked = false, IncludeIgnored = false });
        if (status.IsDirty)
        {
            var files = status.Where(s => s.State != FileStatus.Unaltered).Select(s => s.FilePath).Take(10);
            throw new ReconcilerException(FailureKind.InvalidInput, "the working tree has uncommitted changes (" + string.Join(", ", files) +
                                "). Commit or stash them, then run revert again.");
        }

        var signature = Author(repo, now);
        var result = repo.Revert(target, signature, new RevertOptions
        {
            CommitOnSuccess = false,          // we write the commit ourselves, to use --message
            Mainline = mainline ?? 0,
            FailOnConflict = false,
        });
        if (result.Status == RevertStatus.Conflicts)
        {
            var conflicts = repo.Index.Conflicts.Select(c => (c.Ours ?? c.Theirs ?? c.Ancestor).Path).Distinct().OrderBy(p => p, StringComparer.Ordinal).ToList();
            // The tree was clean before: a hard reset restores it exactly and clears the revert state.
            repo.Reset(ResetMode.Hard, repo.Head.Tip);
            CleanupRevertState(repo);
            throw new ReconcilerException(FailureKind.InvalidInput, $"reverting {Short(target.Sha)} conflicts with later changes in: {string.Join(", ", conflicts)}. " +
                                "Nothing was changed. Resolve by hand: `git revert " + Short(target.Sha) + "`, fix the files, commit.");
        }

        var text = message ?? $"Revert \"{target.MessageShort}\"\n\nThis reverts commit {target.Sha}.\n";
        Commit commit;
        try
        {
            commit = repo.Commit(text, signature, signature, new CommitOptions());
        }
        catch (EmptyCommitException)
        {
            CleanupRevertState(repo);
            throw new ReconcilerException(FailureKind.InvalidInput, $"reverting {Short(target.Sha)} changes nothing: its changes are already undone on this branch.");
        }
        CleanupRevertState(repo);
        return new RevertResult(commit.Sha, target.Sha, repo.Head.FriendlyName, text);
    }

    private static void CleanupRevertState(Repository repo)
    {
        // libgit2 leaves REVERT_HEAD/MERGE_MSG behind when it does not commit; git would then think a revert is in progress.
        foreach (var name in new[] { "REVERT_HEAD", "MERGE_MSG" })
        {
            var path = Path.Combine(repo.Info.Path, name);
            if (File.Exists(path)) File.Delete(path);
        }
    }

    /// <summary>RECONCILER_GIT_AUTHOR ("Name &lt;email&gt;") wins, then git config user.name/user.email, then a default.</summary>
    internal static Signature Author(Repository repo, DateTimeOffset now) => Author(repo, now, Environment.GetEnvironmentVariable);

    internal static Signature Author(Repository repo, DateTimeOffset now, Func<string, string?> environment)
    {
        var fromEnv = environment("RECONCILER_GIT_AUTHOR");
        if (!string.IsNullOrWhiteSpace(fromEnv))
        {
            var lt = fromEnv.IndexOf('<');
            var gt = fromEnv.LastIndexOf('>');
            if (lt <= 0 || gt < lt)
                throw new ReconcilerException(FailureKind.InvalidInput, $"RECONCILER_GIT_AUTHOR '{fromEnv}' must look like 'Name <email>'.");
            return new Signature(fromEnv[..lt].Trim(), fromEnv[(lt + 1)..gt].Trim(), now);
        }
        using var config = ConfigOf(repo, environment);
        return config.BuildSignature(now) ?? new Signature("reconciler", "reconciler@localhost", now);
    }

    /// <summary>The repository's config over the user's and the system's, named by path where libgit2 looks for them
    /// ($HOME/.gitconfig, $XDG_CONFIG_HOME/git/config or ~/.config/git/config, /etc/gitconfig). <c>repo.Config</c>
    /// asks libgit2 for those paths through a <c>git_buf</c>, which the Native AOT build does not marshal back
    /// (libgit2sharp #2187): it would silently lose user.name and user.email set outside the repository.</summary>
    private static Configuration ConfigOf(Repository repo, Func<string, string?> environment)
    {
        var home = environment("HOME");
        var xdg = environment("XDG_CONFIG_HOME") is { Length: > 0 } x ? x
            : home is { Length: > 0 } ? Path.Combine(home, ".config") : null;
        return Configuration.BuildFrom(
            Path.Combine(repo.Info.Path, "config"),
            home is { Length: > 0 } ? Path.Combine(home, ".gitconfig") : null,
            xdg is null ? null : Path.Combine(xdg, "git", "config"),
            "/etc/gitconfig");
    }

    private static string Short(string sha) => sha.Length > 12 ? sha[..12] : sha;
}
