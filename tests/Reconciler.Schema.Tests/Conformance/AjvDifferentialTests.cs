using System.Diagnostics;
using System.Text;
using Newtonsoft.Json.Linq;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;
using Xunit.Abstractions;

namespace Reconciler.Schema.Tests.Conformance;

/// <summary>
/// Differential test against ajv 8 (npm, run through node): thousands of documents generated from the fixture repo's
/// files (each file as it is, and mutated leaf by leaf with the values where .NET and ECMA-262 or draft-07 part ways:
/// trailing line breaks, U+FEFF and U+0085, 4.0 for integers, code points beyond the BMP, empty strings, wrong types,
/// unknown and missing fields) must get the same verdict from ajv as from the project's validation path, both the
/// full path (SchemaValidation) and NJsonSchema alone; the CertainValidity shortcut may only be certain where ajv
/// says valid.
/// </summary>
public class AjvDifferentialTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, string> KindOfFolder = new(StringComparer.Ordinal)
    {
        ["reconciler.yaml"] = "Repository", ["environments"] = "Environment", ["services"] = "Service", ["toggles"] = "Toggle",
    };

    [Fact]
    public void Ajv_and_the_project_give_the_same_verdict_on_generated_documents()
    {
        var documents = Generate();
        Assert.True(documents.Count >= 2000, $"only {documents.Count} documents generated");
        var ajv = AjvVerdicts(documents);

        var disagreements = new List<string>();
        int valid = 0, certain = 0;
        for (var i = 0; i < documents.Count; i++)
        {
            var (kind, label, document) = documents[i];
            var expected = ajv[i];
            if (expected) valid++;
            var nj = document.DeepClone();
            DraftSeven.NormalizeNumbers(nj);
            var njValid = DraftSeven.Validate(nj, SchemaValidation.For(kind)).Count == 0;
            var diagnostics = new List<FileDiagnostic>();
            SchemaValidation.Validate(kind, document.DeepClone(), new Dictionary<string, NodeInfo>(StringComparer.Ordinal), diagnostics);
            var projectValid = diagnostics.Count == 0;
            var shortcut = CertainValidity.IsCertainlyValid(kind, nj);
            if (shortcut) certain++;
            if (njValid != expected || projectValid != expected || (shortcut && !expected))
                disagreements.Add($"{label}: ajv {(expected ? "valid" : "invalid")}, NJsonSchema {(njValid ? "valid" : "invalid")}, project {(projectValid ? "valid" : "invalid")}, shortcut {(shortcut ? "certain" : "not certain")}: {document.ToString(Newtonsoft.Json.Formatting.None)[..Math.Min(300, document.ToString(Newtonsoft.Json.Formatting.None).Length)]}");
        }
        var summary = $"conformance: ajv differential: {documents.Count} documents ({valid} valid, {documents.Count - valid} invalid by ajv), {documents.Count - disagreements.Count} same verdict, {disagreements.Count} different; the shortcut was certain of {certain}";
        output.WriteLine(summary);
        ConformanceData.WriteSummary("ajv-differential", summary);
        Assert.True(disagreements.Count == 0, $"{disagreements.Count} disagreements:\n" + string.Join('\n', disagreements.Take(40)));
    }

    private static List<bool> AjvVerdicts(List<(string Kind, string Label, JToken Document)> documents)
    {
        var schemas = new JObject();
        foreach (var kind in SchemaValidation.Kinds)
        {
            using var stream = typeof(RepoLoader).Assembly.GetManifestResourceStream($"schemas/{kind.ToLowerInvariant()}.schema.json")!;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            schemas[kind] = JToken.Parse(reader.ReadToEnd());
        }
        var input = new JObject
        {
            ["schemas"] = schemas,
            ["documents"] = new JArray(documents.Select(d => new JObject { ["kind"] = d.Kind, ["document"] = d.Document })),
        };
        var directory = Directory.CreateTempSubdirectory("ajv-differential-");
        try
        {
            var inputPath = Path.Combine(directory.FullName, "input.json");
            var outputPath = Path.Combine(directory.FullName, "verdicts.json");
            File.WriteAllText(inputPath, input.ToString(Newtonsoft.Json.Formatting.None));
            var script = Path.Combine(AppContext.BaseDirectory, "Conformance", "ajv-verdicts.js");
            var start = new ProcessStartInfo("node") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var argument in new[] { script, Path.GetDirectoryName(ConformanceData.NpmPackage("ajv"))!, inputPath, outputPath })
                start.ArgumentList.Add(argument);
            using var node = Process.Start(start)!;
            var stderr = node.StandardError.ReadToEndAsync();
            node.StandardOutput.ReadToEnd();
            Assert.True(node.WaitForExit(TimeSpan.FromMinutes(2)), "node did not finish within 2 minutes");
            Assert.True(node.ExitCode == 0, $"node exited {node.ExitCode}: {stderr.Result}");
            return JArray.Parse(File.ReadAllText(outputPath)).Select(t => t.Value<bool>()).ToList();
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>Every fixture file (good and bad cases) as JSON, then one mutation per leaf and per kind of mutation.</summary>
    private static List<(string Kind, string Label, JToken Document)> Generate()
    {
        var documents = new List<(string, string, JToken)>();
        var sources = FixtureRepo.Files().Select(f => ("good/" + f.Key, f.Key, f.Value))
            .Concat(FixtureRepo.BadCases().SelectMany(c => FixtureRepo.Files(c).Select(f => ($"{c}/{f.Key}", f.Key, f.Value))))
            .DistinctBy(s => Convert.ToBase64String(s.Value));
        foreach (var (label, path, bytes) in sources)
        {
            var folder = path.Contains('/') ? path[..path.IndexOf('/')] : path;
            if (!KindOfFolder.TryGetValue(folder, out var kind)) continue;
            var (root, _, diagnostics) = YamlToJson.Convert(bytes);
            if (root is null || diagnostics.Count > 0) continue;
            documents.Add((kind, label, root));
            if (!label.StartsWith("good/", StringComparison.Ordinal)) continue;
            foreach (var (mutation, mutated) in Mutations(root))
                documents.Add((kind, $"{label} {mutation}", mutated));
        }
        return documents;
    }

    private static IEnumerable<(string Label, JToken Document)> Mutations(JToken root)
    {
        var leaves = root.SelectTokens("$..*").Where(t => t is JValue).Select(t => t.Path).ToList();
        foreach (var path in leaves)
        {
            var value = (JValue)root.SelectToken(path)!;
            var text = value.Type == JTokenType.String ? (string)value! : value.ToString(Newtonsoft.Json.Formatting.None);
            var replacements = new List<(string, JToken)>
            {
                ("+\\n", new JValue(text + "\n")),
                ("+\\r\\n", new JValue(text + "\r\n")),
                ("+U+FEFF", new JValue(text + "\uFEFF")),
                ("+U+0085", new JValue(text + "\u0085")),
                ("+U+2028", new JValue(text + "\u2028")),
                ("+U+00A0", new JValue(text + "\u00A0")),
                ("+astral", new JValue(text + "\U0001F600")),
                ("x200 astral", new JValue(string.Concat(Enumerable.Repeat("\U0001F600", 200)))),
                ("empty", new JValue("")),
                ("leading space", new JValue(" " + text)),
                ("+/../x", new JValue(text + "/../x")),
                ("$( )", new JValue("$(id)" + text)),
                ("upper case", new JValue(text.ToUpperInvariant())),
                ("+tab", new JValue(text + "\t")),
                ("arabic digit", new JValue(text.Replace('1', '\u0661'))),
                ("as text", new JValue(text)),
                ("null", JValue.CreateNull()),
                ("list", new JArray(value.DeepClone())),
            };
            if (value.Type == JTokenType.Integer)
            {
                var n = (long)value;
                replacements.Add(("as 4.0 form", new JValue((double)n)));
                replacements.Add(("+0.5", new JValue(n + 0.5)));
                replacements.Add(("negative", new JValue(-n - 1)));
                replacements.Add(("huge", new JValue(long.MaxValue)));
            }
            foreach (var (label, replacement) in replacements)
            {
                var copy = root.DeepClone();
                copy.SelectToken(path)!.Replace(replacement);
                yield return ($"{path} {label}", copy);
            }
        }
        foreach (var container in root.SelectTokens("$..*").OfType<JObject>().Select(o => o.Path).Prepend("").ToList())
        {
            var copy = root.DeepClone();
            var target = (JObject)(container.Length == 0 ? copy : copy.SelectToken(container)!);
            target["unknownField"] = "x";
            yield return ($"{container} +unknownField", copy);
            if (target.Properties().FirstOrDefault() is { } first)
            {
                var removed = root.DeepClone();
                ((JObject)(container.Length == 0 ? removed : removed.SelectToken(container)!)).Remove(first.Name);
                yield return ($"{container} -{first.Name}", removed);
            }
        }
    }
}
