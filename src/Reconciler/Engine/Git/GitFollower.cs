using System.Security.Cryptography;
using System.Text;
using LibGit2Sharp;

namespace Reconciler.Git;

/// <summary>The tip of the followed branch after a fetch.</summary>
public sealed record BranchHead(string Sha, string? Author, string Subject);

/// <summary>What the daemon needs from Git: fetch the branch and say where its head is. Tests use a fake.</summary>
public interface IBranchFollower
{
    /// <summary>Where to read the fetched commits from (GitRepoSource.Open): the --repo directory as given (it may be a
    /// subdirectory of its Git repository), or the mirror.</summary>
    string RepositoryPath { get; }

    Task<BranchHead> FetchAsync(CancellationToken ct);

    /// <summary>Commits reachable from <paramref name="toSha"/> but not from <paramref name="fromSha"/>, newest first,
    /// at most <paramref name="max"/> (what the daemon skips when it applies only the newest head).</summary>
    IReadOnlyList<string> CommitsBetween(string? fromSha, string toSha, int max);
}

/// <summary>
/// Follows one branch. A local path is read in place (its <c>refs/heads/BRANCH</c>; whoever pushes or commits there
/// moves it). A URL (file://, https://, ssh://, user@host:path) is fetched into a bare mirror under
/// <c>STATE_DIR/mirror/&lt;hash of url&gt;</c> with LibGit2Sharp. The libgit2 bundled with LibGit2Sharp 0.32 does ssh by
/// running OpenSSH's <c>ssh</c> (its "exec" transport), so ssh remotes use this user's ssh keys, agent, known_hosts and
/// ~/.ssh/config (or core.sshCommand / GIT_SSH_COMMAND, which libgit2 runs as a single program without a shell). https credentials: RECONCILER_GIT_USERNAME and
/// RECONCILER_GIT_PASSWORD (a token works as the password).
/// </summary>
public sealed class GitFollower : IBranchFollower
{
    private readonly string _source;
    private readonly string _branch;
    private readonly bool _isRemote;
    private readonly string _gitDir;

    public string RepositoryPath { get; }
    public string Branch => _branch;

    public GitFollower(string source, string branch, string stateDirectory)
    {
        if (!Reference.IsValidName("refs/heads/" + branch))
            throw new ReconcilerException(FailureKind.InvalidInput, $"'{branch}' is not a valid branch name. Pass --branch with the name of the branch to follow, e.g. --branch main.");
        _source = source;
        _branch = branch;
        _isRemote = IsUrl(source);
        if (_isRemote)
        {
            RepositoryPath = _gitDir = Path.Combine(stateDirectory, "mirror", HashOf(source));
            EnsureMirror();
        }
        else
        {
            var discovered = Directory.Exists(source) ? GitDiscovery.Find(source) : null;
            _gitDir = discovered ?? throw new ReconcilerException(FailureKind.InvalidInput, 
                $"'{source}' is not a Git repository. Pass --repo with the path of a clone of the infra repo, or its URL.");
            RepositoryPath = Path.GetFullPath(source);
        }
    }

    public static bool IsUrl(string source) =>
        source.Contains("://", StringComparison.Ordinal) ||
        // scp-like ssh syntax: user@host:path (but not a Windows drive path or a plain relative path)
        (source.Contains('@') && source.IndexOf(':') > source.IndexOf('@'));

    private static string HashOf(string url) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(url)))[..16];

    private void EnsureMirror()
    {
        if (Repository.IsValid(_gitDir)) return;
        Directory.CreateDirectory(_gitDir);
        Repository.Init(_gitDir, isBare: true);
        using var repo = new Repository(_gitDir);
        repo.Network.Remotes.Add("origin", _source);
    }

    private string TrackingRef => _isRemote ? $"refs/remotes/origin/{_branch}" : $"refs/heads/{_branch}";

    public Task<BranchHead> FetchAsync(CancellationToken ct) =>
        // libgit2 calls block; keep them off the caller's thread. Fetch honours ct between transfer callbacks.
        Task.Run(() => Fetch(ct), ct);

    private BranchHead Fetch(CancellationToken ct)
    {
        if (_isRemote)
        {
            FetchWithLibGit2(ct);
        }
        using var repo = new Repository(_gitDir);
        var reference = repo.Refs[TrackingRef] ?? throw new ReconcilerException(FailureKind.InvalidInput, _isRemote
            ? $"branch '{_branch}' does not exist on {Redact(_source)}. Check --branch."
            : $"branch '{_branch}' does not exist in {_gitDir}. Check --branch.");
        var commit = reference.ResolveToDirectReference().Target as Commit
            ?? throw new ReconcilerException(FailureKind.InvalidInput, $"'{TrackingRef}' does not point at a commit.");
        return new BranchHead(commit.Sha, $"{commit.Author.Name} <{commit.Author.Email}>", commit.MessageShort);
    }

    private void FetchWithLibGit2(CancellationToken ct)
    {
        using var repo = new Repository(_gitDir);
        var options = new FetchOptions
        {
            Prune = true,
            TagFetchMode = TagFetchMode.None,
            OnTransferProgress = _ => !ct.IsCancellationRequested,
            CredentialsProvider = (_, _, _) => CredentialsFromEnvironment(),
        };
        try
        {
            Commands.Fetch(repo, "origin", [$"+refs/heads/{_branch}:{TrackingRef}"], options, logMessage: null);
        }
        catch (LibGit2SharpException e) when (!ct.IsCancellationRequested)
        {
            throw new ReconcilerException(FailureKind.EnvironmentFault, $"fetching {Redact(_source)} failed: {e.Message}. Check the URL; for https " +
                                "RECONCILER_GIT_USERNAME/RECONCILER_GIT_PASSWORD, for ssh that `ssh` reaches the host with this user's key. The daemon retries at the next interval.");
        }
        ct.ThrowIfCancellationRequested();
    }

    private static Credentials CredentialsFromEnvironment()
    {
        var user = Environment.GetEnvironmentVariable("RECONCILER_GIT_USERNAME");
        var password = Environment.GetEnvironmentVariable("RECONCILER_GIT_PASSWORD");
        return user is null && password is null
            ? new DefaultCredentials()
            : new UsernamePasswordCredentials { Username = user ?? "git", Password = password ?? "" };
    }

    public IReadOnlyList<string> CommitsBetween(string? fromSha, string toSha, int max)
    {
        using var repo = new Repository(_gitDir);
        var filter = new CommitFilter { IncludeReachableFrom = toSha, SortBy = CommitSortStrategies.Topological };
        if (fromSha is not null && repo.Lookup<Commit>(fromSha) is not null) filter.ExcludeReachableFrom = fromSha;
        return repo.Commits.QueryBy(filter).Take(max).Select(c => c.Sha).ToList();
    }

    /// <summary>Drops user:password from a URL before it is printed.</summary>
    internal static string Redact(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var u) && u.UserInfo.Contains(':')
            ? url.Replace(u.UserInfo + "@", "***@", StringComparison.Ordinal)
            : url;
}
