using Xunit;
using System.Text;
using LibGit2Sharp;
using Reconciler.Git;

namespace Reconciler.Engine.Tests.Git;

public sealed class GitRepoSourceTests
{
    private static string Content(Reconciler.Schema.Loading.RepoFile f) => Encoding.UTF8.GetString(f.ReadContent());

    private static GitFixture RepoWithTwoCommits(out string first, out string second)
    {
        var git = new GitFixture();
        git.Write("reconciler.yaml", "kind: Repository\n");
        git.Write("services/api.yaml", "version: 1.0.0\n");
        git.Write("services/README.md", "not a yaml file\n");
        git.Write("services/nested/deep.yaml", "listed, not read: only files directly under services/\n");
        git.Write("environments/staging.yaml", "kind: Environment\n");
        git.Write("artifacts/api.yaml", "not an infra folder\n");
        first = git.Commit("first");
        git.Write("services/api.yaml", "version: 2.0.0\n");
        git.Write("toggles/t.yaml", "kind: Toggle\n");
        second = git.Commit("second");
        return git;
    }

    [Fact]
    public void Lists_only_the_infra_files_of_the_commit_with_blob_ids_and_lazy_content()
    {
        using var git = RepoWithTwoCommits(out _, out var second);
        using var source = GitRepoSource.Open(git.Root, "HEAD");

        Assert.Equal(second, source.Revision);
        var files = source.ListFiles();
        // services/nested/deep.yaml is listed for the loader to warn about (file.ignored), never read.
        Assert.Equal(["environments/staging.yaml", "reconciler.yaml", "services/api.yaml", "services/nested/deep.yaml", "toggles/t.yaml"],
            files.Select(f => f.Path));
        var api = files.Single(f => f.Path == "services/api.yaml");
        var blob = (Blob)git.Repository.Head.Tip["services/api.yaml"].Target;
        Assert.Equal(blob.Sha, api.ContentId);
        Assert.Equal(blob.Size, api.Size);
        Assert.Equal("version: 2.0.0\n", Content(api));
    }

    [Fact]
    public void Reads_the_commit_from_objects_even_when_the_working_tree_differs()
    {
        using var git = RepoWithTwoCommits(out _, out _);
        git.Write("services/api.yaml", "version: 9.9.9 uncommitted\n");
        git.Delete("reconciler.yaml");

        using var source = GitRepoSource.Open(git.Root, "HEAD");

        Assert.Equal("version: 2.0.0\n", Content(source.ListFiles().Single(f => f.Path == "services/api.yaml")));
        Assert.Contains(source.ListFiles(), f => f.Path == "reconciler.yaml");
    }

    [Fact]
    public void Revision_accepts_full_and_short_sha_branch_tags_and_ancestry()
    {
        using var git = RepoWithTwoCommits(out var first, out var second);
        var sig = new Signature("t", "t@example.invalid", DateTimeOffset.UnixEpoch);
        git.Repository.Tags.Add("v1", first, sig, "annotated tag");
        git.Repository.Tags.Add("light", first);
        git.Repository.CreateBranch("old", first);
        var branch = git.Repository.Head.FriendlyName;

        foreach (var (rev, expected) in new[]
                 {
                     ("HEAD", second), ("HEAD~1", first), ("HEAD^", first), (first, first), (first[..7], first),
                     (second[..10], second), (branch, second), ("old", first), ("v1", first), ("light", first),
                     ("refs/tags/v1", first),
                 })
        {
            using var source = GitRepoSource.Open(git.Root, rev);
            Assert.True(expected == source.Revision, $"--rev {rev}: expected {expected}, got {source.Revision}");
        }
        using var old = GitRepoSource.Open(git.Root, "HEAD~1");
        Assert.Equal("version: 1.0.0\n", Content(old.ListFiles().Single(f => f.Path == "services/api.yaml")));
        Assert.DoesNotContain(old.ListFiles(), f => f.Path == "toggles/t.yaml");
    }

    [Theory]
    [InlineData("does-not-exist")]
    [InlineData("HEAD~5")]
    [InlineData("0123456789abcdef0123456789abcdef01234567")]
    [InlineData("")]
    public void Unknown_revision_is_a_user_error_that_says_how_to_list_revisions(string rev)
    {
        using var git = RepoWithTwoCommits(out _, out _);

        var error = Assert.Throws<ReconcilerException>(() => GitRepoSource.Open(git.Root, rev));

        Assert.Equal(FailureKind.InvalidInput, error.Kind);
        Assert.Contains($"unknown revision '{rev}'", error.Message);
        Assert.Contains("git log --oneline", error.Message);
    }

    [Fact]
    public void A_tree_or_blob_revision_is_not_a_commit()
    {
        using var git = RepoWithTwoCommits(out _, out _);
        var blobSha = git.Repository.Head.Tip["services/api.yaml"].Target.Sha;

        var error = Assert.Throws<ReconcilerException>(() => GitRepoSource.Open(git.Root, blobSha));
        Assert.Contains("unknown revision", error.Message);
    }

    [Fact]
    public void A_directory_outside_any_git_repository_is_a_user_error()
    {
        using var dir = new Reconciler.Testing.TempDir();

        var error = Assert.Throws<ReconcilerException>(() => GitRepoSource.Open(dir.Path, "HEAD"));

        Assert.Equal(FailureKind.InvalidInput, error.Kind);
        Assert.Contains("is not inside a Git repository", error.Message);
        Assert.Contains("omit --rev", error.Message);
    }

    [Fact]
    public void A_missing_directory_is_a_user_error()
    {
        using var dir = new Reconciler.Testing.TempDir();
        var error = Assert.Throws<ReconcilerException>(() => GitRepoSource.Open(dir.Combine("nope"), "HEAD"));
        Assert.Contains("no such directory", error.Message);
    }

    [Fact]
    public void A_subdirectory_is_read_from_the_enclosing_repository_at_its_relative_path()
    {
        using var git = new GitFixture();
        git.Write("README.md", "top\n");
        git.Write("reconciler.yaml", "outer file, not part of the infra repo\n");
        git.Write("ops/infra/reconciler.yaml", "kind: Repository\n");
        git.Write("ops/infra/services/api.yaml", "version: 1.0.0\n");
        var sha = git.Commit("infra in a subdirectory");

        using var source = GitRepoSource.Open(git.PathOf("ops/infra"), "HEAD");

        Assert.Equal(sha, source.Revision);
        Assert.Equal("ops/infra", source.Subdirectory);
        Assert.Equal(["reconciler.yaml", "services/api.yaml"], source.ListFiles().Select(f => f.Path));
        Assert.Equal("kind: Repository\n", Content(source.ListFiles()[0]));
    }

    [Fact]
    public void A_commit_that_lacks_the_subdirectory_is_a_user_error_naming_it()
    {
        using var git = new GitFixture();
        git.Write("README.md", "before the infra repo existed\n");
        git.Commit("first");
        git.Write("infra/reconciler.yaml", "kind: Repository\n");
        git.Commit("add infra");

        var error = Assert.Throws<ReconcilerException>(() => GitRepoSource.Open(git.PathOf("infra"), "HEAD~1"));

        Assert.Contains("has no directory infra/", error.Message);
    }

    [Fact]
    public void Files_can_be_read_from_several_threads_at_once()
    {
        using var git = new GitFixture();
        for (var i = 0; i < 200; i++) git.Write($"services/s{i:D3}.yaml", $"name: s{i:D3}\n");
        git.Commit("many");
        using var source = GitRepoSource.Open(git.Root, "HEAD");

        var contents = source.ListFiles().AsParallel().WithDegreeOfParallelism(4).Select(Content).ToList();

        Assert.Equal(200, contents.Count);
        Assert.All(Enumerable.Range(0, 200), i => Assert.Contains($"name: s{i:D3}\n", contents));
    }

    [Fact]
    public void A_symlinked_file_is_refused_when_read_from_git_and_from_disk()
    {
        using var git = new GitFixture();
        git.Write("reconciler.yaml", "kind: Repository\n");
        git.Write("shared/api.yaml", "version: 1.0.0\n");
        Directory.CreateDirectory(git.PathOf("services"));
        File.CreateSymbolicLink(git.PathOf("services/api.yaml"), "../shared/api.yaml");
        git.Commit("symlink");

        using var commit = GitRepoSource.Open(git.Root, "HEAD");
        var fromGit = commit.ListFiles().Single(f => f.Path == "services/api.yaml");
        var fromDisk = WorkingTreeSource.Open(git.Root).ListFiles().Single(f => f.Path == "services/api.yaml");

        Assert.Contains("is a symbolic link", Assert.Throws<IOException>(() => fromGit.ReadContent()).Message);
        Assert.Contains("is a symbolic link", Assert.Throws<IOException>(() => fromDisk.ReadContent()).Message);
        Assert.Equal(fromGit.ContentId, fromDisk.ContentId);
    }
}
