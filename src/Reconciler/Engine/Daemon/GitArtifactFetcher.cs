using LibGit2Sharp;
using Reconciler.Drivers;
using Reconciler.Drivers.Artifacts;
using Reconciler.Git;
using Reconciler.Schema.Model;

namespace Reconciler.Daemon;

/// <summary>
/// Artifacts of the commit being applied. The daemon applies commits, not a working tree (a local clone's files may
/// be at another commit, and a mirror has no files at all), so a repo-relative artifact path is read from the
/// commit's Git objects: the blob is written to <c>CACHE/&lt;sha256&gt;</c> after its sha256 is checked. URLs
/// (file://, http(s)://) go to <paramref name="inner"/>.
/// </summary>
public sealed class GitArtifactFetcher(string repositoryPath, string commit, string subdirectory, string cacheDirectory, IArtifactFetcher inner)
    : IArtifactFetcher
{
    public async Task<string> FetchAsync(ArtifactSpec artifact, CancellationToken ct)
    {
        if (artifact.Url.Contains("://", StringComparison.Ordinal) || Path.IsPathRooted(artifact.Url))
            return await inner.FetchAsync(artifact, ct);

        var expected = ArtifactFetcher.ExpectedSha256(artifact);
        var shortCommit = commit[..Math.Min(12, commit.Length)];
        return await ArtifactFetcher.GetOrAddAsync(cacheDirectory, expected, async temp =>
        {
            using var repo = new Repository(GitDiscovery.Find(repositoryPath) ?? repositoryPath);
            var tree = repo.Lookup<Commit>(commit)?.Tree
                ?? throw new ReconcilerException(FailureKind.EnvironmentFault, $"commit {commit} is not in {repositoryPath}; fetch again.");
            var path = (subdirectory.Length == 0 ? "" : subdirectory.TrimEnd('/') + "/") + artifact.Url.Replace('\\', '/').TrimStart('.', '/');
            if (tree[path]?.Target is not Blob blob)
                throw new ReconcilerException(FailureKind.CommitFault, $"artifact {artifact.Url} is not in commit {shortCommit}. Commit the file, or use a file:// or https:// URL.");
            await using var from = blob.GetContentStream();
            await using var to = File.Create(temp);
            return await ArtifactFetcher.CopyHashingAsync(from, to, ct);
        }, actual => new ReconcilerException(FailureKind.CommitFault, $"artifact {artifact.Url}: sha256 mismatch: expected {expected}, actual {actual} (read from commit " +
                                   $"{shortCommit}). Update artifact.sha256 in the service file."), ct);
    }
}
