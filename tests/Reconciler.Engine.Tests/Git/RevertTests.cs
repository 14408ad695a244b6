using LibGit2Sharp;
using Reconciler.Git;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Engine.Tests.Git;

public sealed class RevertTests
{
    private static readonly DateTimeOffset Now = new(2026, 2, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Writes_the_revert_commit_on_the_branch()
    {
        using var dir = new TempDir();
        using var repo = new GitTestRepo(dir.Combine("infra"));
        repo.Commit("api 1.4.2", ("services/api.yaml", "version: 1.4.2\n"));
        var bump = repo.Commit("api 1.5.0", ("services/api.yaml", "version: 1.5.0\n"));

        var result = GitRevert.Revert(repo.Path, bump.Sha[..10], message: null, mainline: null, Now);

        var head = repo.Repo.Head.Tip;
        Assert.Equal(result.NewSha, head.Sha);
        Assert.Equal(bump.Sha, head.Parents.Single().Sha);
        Assert.Equal("main", result.Branch);
        Assert.Equal($"Revert \"api 1.5.0\"\n\nThis reverts commit {bump.Sha}.\n", head.Message);
        Assert.Equal("version: 1.4.2\n", repo.Read("services/api.yaml"));
        Assert.Equal("version: 1.4.2\n", ((Blob)head["services/api.yaml"].Target).GetContentText());
        Assert.False(repo.Repo.RetrieveStatus().IsDirty);
        Assert.Equal(CurrentOperation.None, repo.Repo.Info.CurrentOperation);
    }

    [Fact]
    public void Uses_the_given_message_and_author()
    {
        using var dir = new TempDir();
        using var repo = new GitTestRepo(dir.Combine("infra"));
        repo.Commit("A", ("a.yaml", "a: 1\n"));
        var b = repo.Commit("B", ("a.yaml", "a: 2\n"));
        Environment.SetEnvironmentVariable("RECONCILER_GIT_AUTHOR", "On Call <oncall@example.com>");
        try
        {
            GitRevert.Revert(repo.Path, b.Sha, "Roll back B: health gate failed", null, Now);
        }
        finally
        {
            Environment.SetEnvironmentVariable("RECONCILER_GIT_AUTHOR", null);
        }
        var head = repo.Repo.Head.Tip;
        Assert.Equal("Roll back B: health gate failed\n", head.Message);
        Assert.Equal("oncall@example.com", head.Author.Email);
    }

    [Theory]
    [InlineData(".gitconfig")]
    [InlineData(".config/git/config")]
    public void The_author_comes_from_the_users_git_config_outside_the_repository(string userConfig)
    {
        using var dir = new TempDir();
        using var repo = new GitTestRepo(dir.Combine("infra"));
        repo.Commit("A", ("a.yaml", "a: 1\n"));
        var home = dir.Combine("home");
        var configFile = Path.Combine(home, userConfig);
        Directory.CreateDirectory(Path.GetDirectoryName(configFile)!);
        File.WriteAllText(configFile, "[user]\n\tname = Home User\n\temail = home@example.com\n");
        var environment = new Dictionary<string, string?> { ["HOME"] = home };

        var author = GitRevert.Author(repo.Repo, Now, environment.GetValueOrDefault);

        Assert.Equal(("Home User", "home@example.com"), (author.Name, author.Email));
    }

    [Fact]
    public void A_conflict_names_the_files_and_leaves_the_tree_as_it_was()
    {
        using var dir = new TempDir();
        using var repo = new GitTestRepo(dir.Combine("infra"));
        repo.Commit("A", ("services/api.yaml", "version: 1.0.0\n"), ("services/web.yaml", "version: 2.0.0\n"));
        var b = repo.Commit("B", ("services/api.yaml", "version: 1.1.0\n"));
        var c = repo.Commit("C", ("services/api.yaml", "version: 1.2.0\n"));

        var e = Assert.Throws<ReconcilerException>(() => GitRevert.Revert(repo.Path, b.Sha, null, null, Now));

        Assert.Equal(FailureKind.InvalidInput, e.Kind);
        Assert.Contains("conflicts with later changes in: services/api.yaml", e.Message);
        Assert.Contains("Nothing was changed", e.Message);
        Assert.Equal(c.Sha, repo.Repo.Head.Tip.Sha);
        Assert.Equal("version: 1.2.0\n", repo.Read("services/api.yaml"));
        Assert.False(repo.Repo.RetrieveStatus().IsDirty);
        Assert.Equal(CurrentOperation.None, repo.Repo.Info.CurrentOperation);
    }

    [Fact]
    public void Refuses_a_dirty_working_tree()
    {
        using var dir = new TempDir();
        using var repo = new GitTestRepo(dir.Combine("infra"));
        repo.Commit("A", ("a.yaml", "a: 1\n"));
        var b = repo.Commit("B", ("a.yaml", "a: 2\n"));
        File.WriteAllText(Path.Combine(repo.Path, "a.yaml"), "a: local edit\n");
        var e = Assert.Throws<ReconcilerException>(() => GitRevert.Revert(repo.Path, b.Sha, null, null, Now));
        Assert.Contains("uncommitted changes (a.yaml)", e.Message);
        Assert.Equal("a: local edit\n", repo.Read("a.yaml"));   // nothing lost
    }

    [Fact]
    public void A_merge_commit_needs_mainline()
    {
        using var dir = new TempDir();
        using var repo = new GitTestRepo(dir.Combine("infra"));
        var a = repo.Commit("A", ("a.yaml", "a: 1\n"));
        var feature = repo.Repo.CreateBranch("feature", a);
        repo.Commit("B on main", ("b.yaml", "b: 1\n"));
        Commands.Checkout(repo.Repo, feature);
        repo.Commit("C on feature", ("c.yaml", "c: 1\n"));
        Commands.Checkout(repo.Repo, repo.Repo.Branches["main"]);
        var merge = repo.Repo.Merge("feature", repo.Signature(), new MergeOptions { FastForwardStrategy = FastForwardStrategy.NoFastForward });
        Assert.Equal(MergeStatus.NonFastForward, merge.Status);

        var e = Assert.Throws<ReconcilerException>(() => GitRevert.Revert(repo.Path, merge.Commit.Sha, null, null, Now));
        Assert.Contains("merge commit with 2 parents", e.Message);
        Assert.Contains("--mainline 1", e.Message);

        GitRevert.Revert(repo.Path, merge.Commit.Sha, null, mainline: 1, Now);
        Assert.False(File.Exists(Path.Combine(repo.Path, "c.yaml")));
        Assert.True(File.Exists(Path.Combine(repo.Path, "b.yaml")));
    }

    [Fact]
    public void Unknown_sha_and_nothing_to_revert_are_clear_errors()
    {
        using var dir = new TempDir();
        using var repo = new GitTestRepo(dir.Combine("infra"));
        repo.Commit("A", ("a.yaml", "a: 1\n"));
        var b = repo.Commit("B", ("a.yaml", "a: 2\n"));
        Assert.Contains("is not in", Assert.Throws<ReconcilerException>(() => GitRevert.Revert(repo.Path, "0123456789abcdef", null, null, Now)).Message);
        GitRevert.Revert(repo.Path, b.Sha, null, null, Now);
        Assert.Contains("changes nothing", Assert.Throws<ReconcilerException>(() => GitRevert.Revert(repo.Path, b.Sha, null, null, Now)).Message);
        Assert.Equal(CurrentOperation.None, repo.Repo.Info.CurrentOperation);
    }
}
