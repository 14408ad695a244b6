using LibGit2Sharp;
using Reconciler.Git;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Engine.Tests.Git;

/// <summary>Holds <see cref="GitDiscovery"/> (written for the Native AOT build) to LibGit2Sharp's
/// <see cref="Repository.Discover"/> on every repository layout the reconciler meets.</summary>
public sealed class GitDiscoveryTests
{
    public static TheoryData<string> Layouts() =>
    [
        "work tree root", "work tree subdirectory", "bare repository", "inside a bare repository", "linked worktree",
        "linked worktree subdirectory", "gitdir file", "invalid .git directory inside a work tree", "no repository",
    ];

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Finds_what_libgit2_discovers(string layout)
    {
        using var dir = new TempDir();
        var start = Arrange(layout, dir.Path);

        var expected = Repository.Discover(start);
        var found = GitDiscovery.Find(start);

        Assert.Equal(Normalize(expected), Normalize(found));
        if (layout != "no repository") Assert.NotNull(found);
        if (found is not null) Assert.EndsWith("/", found);
    }

    private static string Arrange(string layout, string root)
    {
        var main = Path.Combine(root, "infra");
        switch (layout)
        {
            case "work tree root":
                InitWithCommit(main);
                return main;
            case "work tree subdirectory":
                InitWithCommit(main);
                return CreateDirectory(main, "services", "api");
            case "bare repository":
                return Repository.Init(Path.Combine(root, "infra.git"), isBare: true);
            case "inside a bare repository":
                return Path.Combine(Repository.Init(Path.Combine(root, "infra.git"), isBare: true), "refs", "heads");
            case "linked worktree" or "linked worktree subdirectory":
            {
                InitWithCommit(main);
                using var repo = new Repository(main);
                var worktreePath = Path.Combine(root, "wt");
                repo.Worktrees.Add("wt", worktreePath, isLocked: false);
                return layout == "linked worktree" ? worktreePath : CreateDirectory(worktreePath, "services");
            }
            case "gitdir file":
            {
                // A submodule's checkout: ".git" is a file pointing at the repository kept elsewhere.
                var store = Repository.Init(Path.Combine(root, "modules", "infra.git"), isBare: true);
                var checkout = CreateDirectory(root, "checkout");
                File.WriteAllText(Path.Combine(checkout, ".git"), "gitdir: ../modules/infra.git\n");
                Assert.True(Directory.Exists(store));
                return CreateDirectory(checkout, "services");
            }
            case "invalid .git directory inside a work tree":
            {
                InitWithCommit(main);
                var nested = CreateDirectory(main, "vendor");
                Directory.CreateDirectory(Path.Combine(nested, ".git"));
                return nested;
            }
            case "no repository":
                return CreateDirectory(root, "plain", "dir");
            default:
                throw new ArgumentException(layout);
        }
    }

    private static void InitWithCommit(string path)
    {
        Repository.Init(path);
        using var repo = new Repository(path);
        File.WriteAllText(Path.Combine(path, "reconciler.yaml"), "apiVersion: reconciler/v1\n");
        Commands.Stage(repo, "reconciler.yaml");
        var me = new Signature("t", "t@example.com", DateTimeOffset.UnixEpoch);
        repo.Commit("init", me, me);
    }

    private static string CreateDirectory(string root, params string[] parts) =>
        Directory.CreateDirectory(Path.Combine([root, .. parts])).FullName;

    private static string? Normalize(string? gitDir) => gitDir is null ? null : Path.GetFullPath(gitDir).TrimEnd('/');
}
