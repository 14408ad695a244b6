using System.Security.Cryptography;
using System.Text;
using Reconciler.Daemon;
using Reconciler.Drivers;
using Reconciler.Schema.Model;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Git;
using Xunit;

namespace Reconciler.Engine.Tests.Daemon;

public sealed class GitArtifactFetcherTests
{
    private sealed class RecordingFetcher : IArtifactFetcher
    {
        public List<string> Urls { get; } = [];
        public Task<string> FetchAsync(ArtifactSpec artifact, CancellationToken ct)
        {
            Urls.Add(artifact.Url);
            return Task.FromResult("/from/inner");
        }
    }

    private static string Sha(string s) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(s)));

    [Fact]
    public async Task Reads_repo_relative_artifacts_from_the_commit_not_the_working_tree()
    {
        using var dir = new TempDir();
        using var repo = new GitTestRepo(dir.Combine("infra"));
        var v1 = repo.Commit("v1", ("infra/artifacts/api.tgz", "release one"));
        repo.Commit("v2", ("infra/artifacts/api.tgz", "release two"));   // the working tree now has v2
        var inner = new RecordingFetcher();
        var fetcher = new GitArtifactFetcher(repo.Path, v1.Sha, "infra", dir.Combine("cache"), inner);

        var path = await fetcher.FetchAsync(new ArtifactSpec("artifacts/api.tgz", Sha("release one")), CancellationToken.None);
        Assert.Equal("release one", File.ReadAllText(path));
        Assert.Equal(dir.Combine("cache", Sha("release one")), path);

        var e = await Assert.ThrowsAsync<ReconcilerException>(() => fetcher.FetchAsync(new ArtifactSpec("artifacts/api.tgz", Sha("release two")), CancellationToken.None));
        Assert.Contains("sha256 mismatch", e.Message);
        e = await Assert.ThrowsAsync<ReconcilerException>(() => fetcher.FetchAsync(new ArtifactSpec("artifacts/missing.tgz", Sha("x")), CancellationToken.None));
        Assert.Contains("is not in commit", e.Message);
        Assert.Empty(Directory.GetFiles(dir.Combine("cache"), "*.part"));

        Assert.Equal("/from/inner", await fetcher.FetchAsync(new ArtifactSpec("https://artifacts.example.com/api.tgz", Sha("x")), CancellationToken.None));
        Assert.Equal(["https://artifacts.example.com/api.tgz"], inner.Urls);
    }
}
