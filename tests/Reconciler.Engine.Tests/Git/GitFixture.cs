using System.Runtime.CompilerServices;
using LibGit2Sharp;
using Reconciler.Testing;

namespace Reconciler.Engine.Tests.Git;

/// <summary>A real Git repository in a temp directory, written and committed with LibGit2Sharp.</summary>
internal sealed class GitFixture : IDisposable
{
    private static readonly Signature Author = new("Test", "test@example.invalid", new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly TempDir _dir = new();

    public GitFixture()
    {
        Repository.Init(_dir.Path);
        Repository = new Repository(_dir.Path);
    }

    public Repository Repository { get; }
    public string Root => _dir.Path;

    public string PathOf(string relative) => Path.Combine(Root, relative);

    public void Write(string relative, string content)
    {
        var path = PathOf(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    public void Delete(string relative) => File.Delete(PathOf(relative));

    /// <summary>Stages everything (adds, edits, deletions) and commits; returns the commit SHA.</summary>
    public string Commit(string message)
    {
        Commands.Stage(Repository, "*");
        return Repository.Commit(message, Author, Author).Sha;
    }

    /// <summary>The example repo's YAML (not its artifacts) as one commit; the fixed author and time make its SHA,
    /// and so goldens that name it, stable.</summary>
    public string CommitExampleRepo()
    {
        var example = Path.Combine(ProjectRoot(), "examples", "infra-repo");
        foreach (var dir in new[] { "environments", "services", "toggles" })
            foreach (var file in Directory.GetFiles(Path.Combine(example, dir), "*.yaml"))
                Write($"{dir}/{Path.GetFileName(file)}", File.ReadAllText(file));
        Write("reconciler.yaml", File.ReadAllText(Path.Combine(example, "reconciler.yaml")));
        Write(".gitignore", ".reconciler/\n");
        return Commit("example repo");
    }

    public void Dispose()
    {
        Repository.Dispose();
        _dir.Dispose();
    }

    /// <summary>This project's repository root (the folder with Reconciler.sln), from this source file's path.</summary>
    public static string ProjectRoot([CallerFilePath] string file = "")
    {
        for (var dir = Path.GetDirectoryName(file); dir is not null; dir = Path.GetDirectoryName(dir))
            if (File.Exists(Path.Combine(dir, "Reconciler.sln"))) return dir;
        throw new InvalidOperationException($"no Reconciler.sln above {file}");
    }
}
