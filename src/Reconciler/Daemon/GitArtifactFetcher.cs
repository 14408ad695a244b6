using System.Security.Cryptography;
using LibGit2Sharp;
using Reconciler.Cli;
using Reconciler.Drivers;
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

        var expected = artifact.Sha256.Trim().ToLowerInvariant();
        if (expected.Length != 64 || !expected.All(Uri.IsHexDigit))
            throw new UserError($"artifact {artifact.Url}: sha256 must be 64 hex digits.");
        Directory.CreateDirectory(cacheDirectory);
        var cached = Path.Combine(cacheDirectory, expected);
        if (File.Exists(cached) && await HashAsync(cached, ct) == expected) return cached;

        var temp = Path.Combine(cacheDirectory, $".{expected}.{Guid.NewGuid():N}.part");
        try
        {
            string actual;
            using (var repo = new Repository(Repository.Discover(repositoryPath) ?? repositoryPath))
            {
                var tree = repo.Lookup<Commit>(commit)?.Tree
                    ?? throw new UserError($"commit {commit} is not in {repositoryPath}; fetch again.");
                var path = (subdirectory.Length == 0 ? "" : subdirectory.TrimEnd('/') + "/") + artifact.Url.Replace('\\', '/').TrimStart('.', '/');
                if (tree[path]?.Target is not Blob blob)
                    throw new UserError($"artifact {artifact.Url} is not in commit {commit[..Math.Min(12, commit.Length)]}. Commit the file, " +
                                        "or use a file:// or https:// URL.");
                await using var from = blob.GetContentStream();
                await using var to = File.Create(temp);
                using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[1 << 16];
                int n;
                while ((n = await from.ReadAsync(buffer, ct)) > 0)
                {
                    sha.AppendData(buffer, 0, n);
                    await to.WriteAsync(buffer.AsMemory(0, n), ct);
                }
                actual = Convert.ToHexStringLower(sha.GetHashAndReset());
            }
            if (actual != expected)
                throw new UserError($"artifact {artifact.Url}: sha256 mismatch: expected {expected}, actual {actual} (read from commit " +
                                    $"{commit[..Math.Min(12, commit.Length)]}). Update artifact.sha256 in the service file.");
            File.Move(temp, cached, overwrite: true);
            return cached;
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    private static async Task<string> HashAsync(string path, CancellationToken ct)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct));
    }
}
