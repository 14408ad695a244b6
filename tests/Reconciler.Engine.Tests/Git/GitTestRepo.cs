using LibGit2Sharp;

namespace Reconciler.Engine.Tests.Git;

/// <summary>A real Git repository with a working tree, built by tests with LibGit2Sharp.</summary>
internal sealed class GitTestRepo : IDisposable
{
    private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private int _commits;

    public Repository Repo { get; }
    public string Path { get; }

    public GitTestRepo(string path, string branch = "main")
    {
        Path = path;
        Repository.Init(path);
        Repo = new Repository(path);
        Repo.Refs.UpdateTarget("HEAD", "refs/heads/" + branch);
    }

    public Signature Signature(string name = "Dev") => new(name, name.ToLowerInvariant() + "@example.com", Epoch.AddMinutes(_commits));

    public Commit Commit(string message, params (string Path, string? Content)[] files)
    {
        foreach (var (file, content) in files)
        {
            var full = System.IO.Path.Combine(Path, file);
            if (content is null)
            {
                File.Delete(full);
                Commands.Remove(Repo, file);
                continue;
            }
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
            File.WriteAllText(full, content);
            Commands.Stage(Repo, file);
        }
        var sig = Signature();
        _commits++;
        return Repo.Commit(message, sig, sig);
    }

    public string Read(string file) => File.ReadAllText(System.IO.Path.Combine(Path, file));

    public void Dispose() => Repo.Dispose();
}
