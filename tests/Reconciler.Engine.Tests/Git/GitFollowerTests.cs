using LibGit2Sharp;
using Reconciler.Git;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Engine.Tests.Git;

[Trait("Category", "EndToEnd")]
public sealed class GitFollowerTests
{
    [Fact]
    public async Task Follows_a_file_remote_through_a_bare_mirror_and_sees_new_commits()
    {
        using var dir = new TempDir();
        using var origin = new GitTestRepo(dir.Combine("origin"));
        var a = origin.Commit("A", ("services/api.yaml", "version: 1.0.0\n"));
        var url = new Uri(origin.Path).AbsoluteUri;   // file:///...

        var follower = new GitFollower(url, "main", dir.Combine("state"));
        Assert.StartsWith(dir.Combine("state", "mirror"), follower.RepositoryPath);
        Assert.True(Repository.IsValid(follower.RepositoryPath));

        var head = await follower.FetchAsync(CancellationToken.None);
        Assert.Equal(a.Sha, head.Sha);
        Assert.Equal("A", head.Subject);
        Assert.Equal("Dev <dev@example.com>", head.Author);

        var b = origin.Commit("B", ("services/api.yaml", "version: 1.1.0\n"));
        var c = origin.Commit("C", ("services/api.yaml", "version: 1.2.0\n"));
        head = await follower.FetchAsync(CancellationToken.None);
        Assert.Equal(c.Sha, head.Sha);
        Assert.Equal([c.Sha, b.Sha], follower.CommitsBetween(a.Sha, c.Sha, 10));

        // The mirror holds the objects: the commit can be read without the origin.
        using var mirror = new Repository(follower.RepositoryPath);
        Assert.NotNull(mirror.Lookup<Commit>(c.Sha));

        // A second follower on the same URL reuses the mirror.
        var again = new GitFollower(url, "main", dir.Combine("state"));
        Assert.Equal(follower.RepositoryPath, again.RepositoryPath);
    }

    [Fact]
    public async Task Follows_a_local_path_in_place()
    {
        using var dir = new TempDir();
        using var repo = new GitTestRepo(dir.Combine("infra"));
        repo.Commit("A", ("reconciler.yaml", "kind: Repository\n"));
        var follower = new GitFollower(repo.Path, "main", dir.Combine("state"));
        var b = repo.Commit("B", ("reconciler.yaml", "kind: Repository # b\n"));
        Assert.Equal(b.Sha, (await follower.FetchAsync(CancellationToken.None)).Sha);
        Assert.False(Directory.Exists(dir.Combine("state", "mirror")));
    }

    [Fact]
    public async Task A_missing_branch_is_a_clear_error()
    {
        using var dir = new TempDir();
        using var origin = new GitTestRepo(dir.Combine("origin"));
        origin.Commit("A", ("a.txt", "a"));
        var follower = new GitFollower(new Uri(origin.Path).AbsoluteUri, "release", dir.Combine("state"));
        var e = await Assert.ThrowsAsync<ReconcilerException>(() => follower.FetchAsync(CancellationToken.None));
        Assert.Contains("branch 'release' does not exist", e.Message);
    }

    [Fact]
    public async Task An_unreachable_remote_is_a_clear_error_not_a_crash()
    {
        using var dir = new TempDir();
        var follower = new GitFollower(new Uri(dir.Combine("nowhere")).AbsoluteUri, "main", dir.Combine("state"));
        var e = await Assert.ThrowsAsync<ReconcilerException>(() => follower.FetchAsync(CancellationToken.None));
        Assert.Contains("fetching file://", e.Message);
        Assert.Contains("retries at the next interval", e.Message);
    }

    [Fact]
    public void A_path_that_is_not_a_repository_is_a_clear_error()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ReconcilerException>(() => new GitFollower(dir.Path, "main", dir.Combine("state")));
        Assert.Contains("is not a Git repository", e.Message);
    }

    [Theory]
    [InlineData("https://github.com/acme/infra.git", true)]
    [InlineData("ssh://git@github.com/acme/infra.git", true)]
    [InlineData("git@github.com:acme/infra.git", true)]
    [InlineData("file:///srv/infra", true)]
    [InlineData("/srv/infra", false)]
    [InlineData("infra", false)]
    public void Classifies_sources(string source, bool remote) => Assert.Equal(remote, GitFollower.IsUrl(source));

    [Fact]
    public void Credentials_never_appear_in_messages() =>
        Assert.Equal("https://***@git.example.com/infra.git", GitFollower.Redact("https://bot:tok3n@git.example.com/infra.git"));


    [Fact]
    public async Task Follows_an_ssh_remote_through_openssh()
    {
        if (!File.Exists("/usr/sbin/sshd")) throw new InvalidOperationException("openssh-server is required (.ci/run installs it)");
        using var dir = new TempDir();
        using var origin = new GitTestRepo(dir.Combine("origin"));
        var a = origin.Commit("A", ("services/api.yaml", "version: 1.0.0\n"));
        using var sshd = new SshGitServer(dir.Combine("sshd"));
        var url = $"ssh://{Environment.UserName}@127.0.0.1:{sshd.Port}{origin.Path}";

        var follower = new GitFollower(url, "main", dir.Combine("state"));
        using (var mirror = new Repository(follower.RepositoryPath))
            mirror.Config.Set("core.sshCommand", sshd.SshCommand);   // pinned host key and the test's client key

        Assert.Equal(a.Sha, (await follower.FetchAsync(CancellationToken.None)).Sha);
        var b = origin.Commit("B", ("services/api.yaml", "version: 1.1.0\n"));
        Assert.Equal(b.Sha, (await follower.FetchAsync(CancellationToken.None)).Sha);
    }
}
