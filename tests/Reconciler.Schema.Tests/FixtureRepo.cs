using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;

namespace Reconciler.Schema.Tests;

/// <summary>
/// Fixtures/good is a complete, valid repo. Each Fixtures/bad/CASE holds only the files it changes: they replace or
/// add to the good repo's files, and an empty "PATH.delete" removes PATH. So each case shows exactly one problem.
/// </summary>
internal static class FixtureRepo
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures");

    public static Dictionary<string, byte[]> Files(string? badCase = null)
    {
        var files = ReadTree(Path.Combine(Root, "good"));
        if (badCase is null) return files;
        foreach (var (path, bytes) in ReadTree(Path.Combine(Root, "bad", badCase)))
        {
            if (path.EndsWith(".delete", StringComparison.Ordinal)) files.Remove(path[..^".delete".Length]);
            else files[path] = bytes;
        }
        return files;
    }

    public static InMemoryRepoSource Source(string? badCase = null, string revision = "working-tree") =>
        new(Files(badCase), revision);

    public static IEnumerable<string> BadCases() =>
        Directory.GetDirectories(Path.Combine(Root, "bad")).Select(Path.GetFileName).Order(StringComparer.Ordinal)!;

    public static string Render(LoadResult result) =>
        string.Concat(result.Diagnostics.Select(d => d + "\n"));

    public static RepoModel LoadGood()
    {
        var result = RepoLoader.Load(Source());
        Xunit.Assert.True(result.Diagnostics.IsEmpty, Render(result));
        return result.Model!;
    }

    private static Dictionary<string, byte[]> ReadTree(string directory) =>
        Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(directory, f).Replace('\\', '/'), File.ReadAllBytes, StringComparer.Ordinal);
}
