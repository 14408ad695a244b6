using System.Runtime.CompilerServices;
using System.Text;

namespace Reconciler.Testing;

/// <summary>
/// Golden-file assertions (Verify is not served by our registry). Files live in a <c>golden/</c>
/// folder beside the calling test's source file. Run with <c>UPDATE_GOLDEN=1</c> to (re)write them;
/// review the diff in Git like any other change.
/// </summary>
public static class Golden
{
    public static bool Updating => Environment.GetEnvironmentVariable("UPDATE_GOLDEN") is "1" or "true";

    public static void Match(string actual, string name, [CallerFilePath] string callerFile = "")
    {
        var path = PathFor(name, callerFile);
        var normalized = Normalize(actual);
        if (Updating)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, normalized, new UTF8Encoding(false));
            return;
        }
        if (!File.Exists(path))
            throw new Xunit.Sdk.XunitException($"Golden file {path} does not exist. Run the tests with UPDATE_GOLDEN=1 to create it, then review it.");
        var expected = Normalize(File.ReadAllText(path));
        if (expected != normalized)
            throw new Xunit.Sdk.XunitException($"Output differs from golden file {path} (UPDATE_GOLDEN=1 rewrites it).\n{FirstDifference(expected, normalized)}");
    }

    public static string PathFor(string name, [CallerFilePath] string callerFile = "") =>
        Path.Combine(Path.GetDirectoryName(callerFile)!, "golden", name);

    private static string Normalize(string s) => s.Replace("\r\n", "\n");

    private static string FirstDifference(string expected, string actual)
    {
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        for (var i = 0; i < Math.Max(e.Length, a.Length); i++)
        {
            var el = i < e.Length ? e[i] : "<end of file>";
            var al = i < a.Length ? a[i] : "<end of file>";
            if (el != al) return $"first difference at line {i + 1}:\n  expected: {el}\n  actual:   {al}";
        }
        return "(no line difference; check trailing newline)";
    }
}
