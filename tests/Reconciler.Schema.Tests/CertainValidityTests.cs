using CsCheck;
using Newtonsoft.Json.Linq;
using NJsonSchema.Validation;
using Reconciler.Schema.Loading;

namespace Reconciler.Schema.Tests;

/// <summary>CertainValidity may only ever say "valid" where NJsonSchema says so too.</summary>
public class CertainValidityTests
{
    public static TheoryData<string> AllFixtureFiles()
    {
        var data = new TheoryData<string>();
        foreach (var badCase in FixtureRepo.BadCases().Prepend(null))
            foreach (var (path, _) in FixtureRepo.Files(badCase))
                if (RepoLoader.KindOf(path, out _) is not null) data.Add($"{badCase ?? "good"}|{path}");
        return data;
    }

    /// <summary>"Certainly valid" without NJsonSchema must mean NJsonSchema finds nothing, for every fixture file
    /// against every kind's schema (so files of one kind are also tried against the others' schemas).</summary>
    [Theory]
    [MemberData(nameof(AllFixtureFiles))]
    public void Certainly_valid_files_are_valid_for_NJsonSchema(string id)
    {
        var (badCase, path) = (id.Split('|')[0], id.Split('|')[1]);
        var bytes = FixtureRepo.Files(badCase == "good" ? null : badCase)[path];
        var (root, _, _) = YamlToJson.Convert(bytes);
        if (root is null) return;

        foreach (var kind in SchemaValidation.Kinds)
            if (CertainValidity.IsCertainlyValid(kind, root))
                Assert.Empty(new JsonSchemaValidator().Validate(root, SchemaValidation.For(kind)));
    }

    /// <summary>The shortcut must actually be taken, or it saves nothing: every valid file of the fixtures and of
    /// the example repo is certainly valid for its own kind.</summary>
    [Fact]
    public void Every_valid_file_is_certainly_valid_without_NJsonSchema()
    {
        var files = FixtureRepo.Files().Select(f => (Source: "fixture", f.Key, f.Value)).Concat(ExampleFiles().Select(f => (Source: "example", f.Key, f.Value)));
        foreach (var (source, path, bytes) in files)
        {
            var kind = RepoLoader.KindOf(path, out _);
            if (kind is null) continue;
            var (root, _, _) = YamlToJson.Convert(bytes);
            Assert.True(CertainValidity.IsCertainlyValid(kind, root!), $"{source} {path} is valid but was not certain");
        }
    }

    /// <summary>Mutations of valid files (values swapped for other types, keys renamed, items duplicated): whatever
    /// the mutant is, "certainly valid" must agree with NJsonSchema.</summary>
    [Fact]
    public void Mutated_files_that_are_certainly_valid_are_valid_for_NJsonSchema()
    {
        var originals = FixtureRepo.Files().Concat(ExampleFiles())
            .Select(f => (Kind: RepoLoader.KindOf(f.Key, out _), Root: YamlToJson.Convert(f.Value).Root))
            .Where(f => f.Kind is not null && f.Root is JObject).ToList();
        JToken[] replacements = [new JValue("x"), new JValue(""), new JValue(0L), new JValue(-1L), new JValue(100000L), new JValue(1.5),
            new JValue(true), JValue.CreateNull(), new JArray(), new JArray("a", "a"), new JObject(), new JObject { ["zz"] = 1 },
            new JValue("25%"), new JValue("101%"), new JValue("1s"), new JValue("Bad Name"), new JValue(new string('a', 300))];
        CsCheck.Gen.Select(CsCheck.Gen.Int[0, originals.Count - 1], CsCheck.Gen.Int[0, 10_000], CsCheck.Gen.Int[0, replacements.Length - 1])
            .Sample(t =>
            {
                var (kind, root) = originals[t.Item1];
                var mutant = root!.DeepClone();
                var tokens = ((JContainer)mutant).Descendants().Where(x => x is not JProperty).ToList();
                var target = tokens[t.Item2 % tokens.Count];
                if (target.Parent is JProperty property && t.Item3 % 5 == 0) property.Parent!.Last!.AddAfterSelf(new JProperty(property.Name + "x", property.Value.DeepClone()));
                else target.Replace(replacements[t.Item3].DeepClone());
                foreach (var k in SchemaValidation.Kinds)
                    if (CertainValidity.IsCertainlyValid(k, mutant))
                        Assert.Empty(new JsonSchemaValidator().Validate(mutant, SchemaValidation.For(k)));
                _ = kind;
            }, iter: 3000);
    }

    private static IEnumerable<KeyValuePair<string, byte[]>> ExampleFiles([System.Runtime.CompilerServices.CallerFilePath] string here = "")
    {
        var root = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "examples", "infra-repo"));
        return Directory.EnumerateFiles(root, "*.yaml", SearchOption.AllDirectories)
            .Select(f => new KeyValuePair<string, byte[]>(Path.GetRelativePath(root, f).Replace('\\', '/'), File.ReadAllBytes(f)));
    }
}
