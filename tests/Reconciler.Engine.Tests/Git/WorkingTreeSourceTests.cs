using Xunit;
using System.Text;
using LibGit2Sharp;
using Reconciler.Git;
using Reconciler.Testing;

namespace Reconciler.Engine.Tests.Git;

public sealed class WorkingTreeSourceTests
{
    [Fact]
    public void Reads_uncommitted_edits_and_reports_head_and_dirty()
    {
        using var git = new GitFixture();
        git.Write("reconciler.yaml", "kind: Repository\n");
        git.Write("services/api.yaml", "version: 1.0.0\n");
        var head = git.Commit("first");

        var clean = WorkingTreeSource.Open(git.Root);
        Assert.Equal("working-tree", clean.Revision);
        Assert.Equal(head, clean.BaseCommit);
        Assert.False(clean.IsDirty);
        // Unchanged files get the committed blob id, so they share parse-cache entries with the commit.
        Assert.Equal(git.Repository.Head.Tip["services/api.yaml"].Target.Sha,
            clean.ListFiles().Single(f => f.Path == "services/api.yaml").ContentId);

        git.Write("services/api.yaml", "version: 1.1.0\n");
        var edited = WorkingTreeSource.Open(git.Root);
        Assert.True(edited.IsDirty);
        Assert.Equal(head, edited.BaseCommit);
        var api = edited.ListFiles().Single(f => f.Path == "services/api.yaml");
        Assert.Equal("version: 1.1.0\n", Encoding.UTF8.GetString(api.ReadContent()));
        Assert.Equal(15, api.Size);
    }

    [Fact]
    public void An_added_or_deleted_file_makes_the_tree_dirty()
    {
        using var git = new GitFixture();
        git.Write("reconciler.yaml", "kind: Repository\n");
        git.Write("services/api.yaml", "version: 1.0.0\n");
        git.Commit("first");

        git.Write("toggles/new.yaml", "kind: Toggle\n");
        Assert.True(WorkingTreeSource.Open(git.Root).IsDirty);
        git.Delete("toggles/new.yaml");
        Assert.False(WorkingTreeSource.Open(git.Root).IsDirty);
        git.Delete("services/api.yaml");
        Assert.True(WorkingTreeSource.Open(git.Root).IsDirty);
        // Files outside the infra layout do not count.
        git.Write("services/api.yaml", "version: 1.0.0\n");
        git.Write("notes.txt", "scratch\n");
        Assert.False(WorkingTreeSource.Open(git.Root).IsDirty);
    }

    [Fact]
    public void Blob_id_is_the_one_git_computes()
    {
        using var git = new GitFixture();
        foreach (var content in new[] { "", "a", "kind: Service\nname: api\n", new string('x', 100_000) })
        {
            var bytes = Encoding.UTF8.GetBytes(content);
            var expected = git.Repository.ObjectDatabase.CreateBlob(new MemoryStream(bytes)).Sha;
            Assert.Equal(expected, WorkingTreeSource.BlobId(bytes));
        }
    }

    [Fact]
    public void Outside_git_it_reads_the_directory_without_a_base_commit()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.Combine("services"));
        File.WriteAllText(dir.Combine("reconciler.yaml"), "kind: Repository\n");
        File.WriteAllText(dir.Combine("services", "a.yaml"), "x: 1\n");
        File.WriteAllText(dir.Combine("services", "a.yml"), "not .yaml: listed for the loader to warn about\n");
        File.WriteAllText(dir.Combine("services", "README.md"), "not YAML: not listed\n");

        var source = WorkingTreeSource.Open(dir.Path);

        Assert.Null(source.BaseCommit);
        Assert.Equal(["reconciler.yaml", "services/a.yaml", "services/a.yml"], source.ListFiles().Select(f => f.Path));
    }

    [Fact]
    public void Disk_and_git_list_the_same_files_with_the_yaml_that_is_not_read()
    {
        // What the loader reads and what it warns about must not depend on the source: a file in a subdirectory (to
        // the depth both look), a .yml file, a linked directory (not followed), and a file deeper than both look.
        using var git = new GitFixture();
        git.Write("reconciler.yaml", "kind: Repository\n");
        git.Write("services/api.yaml", "x: 1\n");
        git.Write("services/team/auth.yaml", "x: 2\n");
        git.Write("services/team/a/b/c/deep.yml", "x: 3\n");
        git.Write("services/team/a/b/c/d/too-deep.yaml", "x: 4\n");
        git.Write("toggles/t.yml", "x: 5\n");
        git.Write("environments/prod/extra.yaml", "x: 6\n");
        git.Write("artifacts/api.yaml", "not an infra folder\n");
        git.Commit("first");
        Directory.CreateSymbolicLink(git.PathOf("services/linked"), git.PathOf("services/team"));

        var disk = WorkingTreeSource.Open(git.Root);
        using var commit = GitRepoSource.Open(git.Root, "HEAD");

        string[] expected = ["environments/prod/extra.yaml", "reconciler.yaml", "services/api.yaml", "services/team/a/b/c/deep.yml",
            "services/team/auth.yaml", "toggles/t.yml"];
        Assert.Equal(expected, disk.ListFiles().Select(f => f.Path));
        Assert.Equal(expected, commit.ListFiles().Select(f => f.Path));
        Assert.False(disk.IsDirty);   // the link is untracked, and not followed: the same files as HEAD

        // A file that is not read does not make the work tree differ from HEAD, untracked or changed.
        git.Write("services/team/notes.yml", "untracked\n");
        git.Write("services/team/auth.yaml", "x: changed, not read\n");
        Assert.False(WorkingTreeSource.Open(git.Root).IsDirty);
        git.Write("services/api.yaml", "x: changed\n");
        Assert.True(WorkingTreeSource.Open(git.Root).IsDirty);
    }

    [Fact]
    public void A_subdirectory_compares_with_heads_subtree()
    {
        using var git = new GitFixture();
        git.Write("infra/reconciler.yaml", "kind: Repository\n");
        git.Commit("first");

        var source = WorkingTreeSource.Open(git.PathOf("infra"));

        Assert.Equal("infra", source.GitSubdirectory);
        Assert.False(source.IsDirty);
    }

    [Fact]
    public void A_missing_directory_is_a_user_error()
    {
        using var dir = new TempDir();
        Assert.Throws<ReconcilerException>(() => WorkingTreeSource.Open(dir.Combine("missing")));
    }
}
