using System.Text.Json;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using Reconciler.Schema.Loading;
using Xunit.Abstractions;

namespace Reconciler.Schema.Tests.Conformance;

/// <summary>
/// The official JSON-Schema-Test-Suite (draft-07, required and optional) against the project's validation path:
/// NJsonSchema as <see cref="DraftSeven"/> prepares it, and the <see cref="CertainValidity"/> shortcut, which may only
/// ever say "certainly valid" of a valid document. Every case passes or is listed, with its reason, in
/// json-schema-suite-exclusions.txt; an exclusion must name a keyword our schemas never use and must still fail
/// (a stale line fails the test too).
/// </summary>
public class JsonSchemaSuiteTests(ITestOutputHelper output)
{
    [Fact]
    public void Every_draft7_case_passes_on_both_paths_or_is_excluded_with_a_reason()
    {
        var suite = ConformanceData.JsonSchemaSuite();
        var draft7 = Path.Combine(suite, "tests", "draft7");
        var exclusions = SuiteExclusions.Load("json-schema-suite-exclusions.txt");
        var usedKeywords = SchemaKeywords.UsedByOurSchemas();
        foreach (var e in exclusions.Entries)
        {
            if (e.Keyword.Contains(':')) Assert.True(SchemaKeywords.Guard(e.Keyword), $"exclusion '{e.Id}': our schemas do not avoid '{e.Keyword}'");
            else Assert.False(usedKeywords.Contains(e.Keyword), $"exclusion '{e.Id}' names '{e.Keyword}', a keyword our schemas use: it must pass, not be excluded");
        }

        int total = 0, passed = 0, excluded = 0, shortcutCertain = 0;
        var failures = new List<string>();
        foreach (var file in Directory.EnumerateFiles(draft7, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(draft7, file).Replace('\\', '/');
            foreach (var group in Parse(File.ReadAllText(file)).Children<JObject>())
            {
                var schemaText = group["schema"]!.ToString(Formatting.None);
                var (schema, loadError) = LoadNJsonSchema(schemaText);
                using var schemaDocument = JsonDocument.Parse(schemaText);
                var shortcut = SchemaNode.FromDocument(schemaDocument);
                foreach (var test in group["tests"]!.Children<JObject>())
                {
                    total++;
                    var id = $"{relative} | {group["description"]} | {test["description"]}";
                    var expected = test["valid"]!.Value<bool>();
                    var data = test["data"]!.DeepClone();
                    DraftSeven.NormalizeNumbers(data);
                    string? problem = null;
                    if (schema is null) problem = $"NJsonSchema cannot load the schema: {loadError}";
                    else
                    {
                        try
                        {
                            var valid = DraftSeven.Validate(data, schema).Count == 0;
                            if (valid != expected) problem = $"NJsonSchema path says {(valid ? "valid" : "invalid")}";
                        }
                        catch (Exception e)
                        {
                            problem = $"NJsonSchema path throws {e.GetType().Name}: {e.Message}";
                        }
                    }
                    if (shortcut?.Accepts(data) == true)
                    {
                        shortcutCertain++;
                        if (!expected) problem = "the shortcut says certainly valid of an invalid document";   // never excludable
                    }
                    if (problem is null) passed++;
                    else if (exclusions.Covers(id) && !problem.StartsWith("the shortcut", StringComparison.Ordinal)) excluded++;
                    else failures.Add($"{id}: {problem} (expected {(expected ? "valid" : "invalid")})");
                }
            }
        }

        var stale = exclusions.Unused();
        var summary = $"conformance: JSON-Schema-Test-Suite draft-07: {passed} of {total} cases pass on the NJsonSchema path, {excluded} excluded (json-schema-suite-exclusions.txt), {failures.Count} unexplained; the shortcut was certain of {shortcutCertain}, never wrongly";
        output.WriteLine(summary);
        ConformanceData.WriteSummary("json-schema-test-suite", summary);
        Assert.True(failures.Count == 0, $"{failures.Count} unexplained:\n" + string.Join('\n', failures));
        Assert.True(stale.Count == 0, "exclusions that no longer fail (remove them):\n" + string.Join('\n', stale));
    }

    private static (NJsonSchema.JsonSchema? Schema, string? Error) LoadNJsonSchema(string schemaText)
    {
        try
        {
            return (DraftSeven.Load(schemaText), null);
        }
        catch (Exception e)
        {
            return (null, $"{e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>Dates stay strings (Newtonsoft would turn them into Date tokens); numbers as JSON reads them.</summary>
    internal static JToken Parse(string json)
    {
        using var reader = new JsonTextReader(new StringReader(json)) { DateParseHandling = DateParseHandling.None, FloatParseHandling = FloatParseHandling.Double };
        return JToken.ReadFrom(reader);
    }
}
