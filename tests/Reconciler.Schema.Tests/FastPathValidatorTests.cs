using Newtonsoft.Json.Linq;
using NJsonSchema.Validation;
using Reconciler.Schema.Loading;

namespace Reconciler.Schema.Tests;

/// <summary>The fast path may only ever say "valid" where NJsonSchema says so too.</summary>
public class FastPathValidatorTests
{
    public static TheoryData<string> AllFixtureFiles()
    {
        var data = new TheoryData<string>();
        foreach (var badCase in FixtureRepo.BadCases().Prepend(null))
            foreach (var (path, _) in FixtureRepo.Files(badCase))
                if (RepoLoader.KindOf(path, out _) is not null) data.Add($"{badCase ?? "good"}|{path}");
        return data;
    }

    [Theory]
    [MemberData(nameof(AllFixtureFiles))]
    public void Fast_and_plain_validators_agree_on_every_fixture_file(string id)
    {
        var (badCase, path) = (id.Split('|')[0], id.Split('|')[1]);
        var bytes = FixtureRepo.Files(badCase == "good" ? null : badCase)[path];
        var (root, _, _) = YamlToJson.Convert(bytes);
        if (root is not JObject) return; // nothing reaches the schema

        foreach (var kind in SchemaValidation.Kinds)
        {
            var schema = SchemaValidation.For(kind);
            var plain = Describe(new JsonSchemaValidator().Validate(root, schema));
            var fast = Describe(new LeafFastPathValidator().Validate(root, schema));
            Assert.Equal(plain, fast);
        }
    }

    [Fact]
    public void A_bad_leaf_deep_in_a_valid_tree_is_still_found()
    {
        var root = JObject.Parse("""{"apiVersion":"reconciler/v1","kind":"Toggle","name":"t","environments":{"a":true,"b":"yes"}}""");

        var errors = new LeafFastPathValidator().Validate(root, SchemaValidation.For("Toggle"));

        Assert.NotEmpty(errors);
    }

    private static string Describe(IEnumerable<ValidationError> errors) =>
        string.Join("\n", errors.Select(e => $"{e.Kind} {e.Path}").Order(StringComparer.Ordinal));
}
