using System.Text;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;

namespace Reconciler.Schema.Tests;

/// <summary>
/// One test per finding of issue 15 (a file meant something else to the reconciler than to the YAML 1.2 and JSON
/// Schema draft-07 specs). Each edits one line of the good fixture repo and checks the verdict and the value.
/// </summary>
public class SpecFindingsTests
{
    private static LoadResult LoadWith(string path, string find, string replace)
    {
        var files = FixtureRepo.Files();
        var text = Encoding.UTF8.GetString(files[path]);
        Assert.Contains(find, text);
        files[path] = Encoding.UTF8.GetBytes(text.Replace(find, replace));
        return RepoLoader.Load(new InMemoryRepoSource(files));
    }

    private static Diagnostic SingleError(LoadResult result)
    {
        var errors = result.Diagnostics.Where(d => d.Severity == Severity.Error).ToList();
        Assert.True(errors.Count == 1, FixtureRepo.Render(result));
        return errors[0];
    }

    // --- 1. a trailing newline passed every `$` pattern ---------------------------------------------------------

    [Fact]
    public void A_block_scalar_deadline_ending_in_a_newline_is_refused_not_read_as_hours()
    {
        var result = LoadWith("services/api.yaml", "  deadline: 60s\n", "  deadline: |\n    20s\n");
        var error = SingleError(result);
        Assert.Equal("unsafe.value", error.RuleId);   // a line break is unsafe wherever a pattern refuses it
        Assert.Equal("/health/deadline", error.JsonPointer);
        Assert.Contains("'20s\\n'", error.Message);
        Assert.Equal("services/api.yaml:25:13", error.Location!.ToString());
    }

    [Fact]
    public void The_duration_grammar_refuses_any_other_unit_or_a_trailing_line_break()
    {
        foreach (var bad in new[] { "20s\n", "20", "20x", "20 s", "1d", "-1s", "1.5s", "1234567s", "\u0661s", "20S" })
        {
            Assert.False(Grammars.TryParseDuration(bad, out _), bad);
            Assert.Throws<FormatException>(() => Grammars.Duration(bad));
        }
        Assert.Equal(TimeSpan.FromSeconds(20), Grammars.Duration("20s"));
        Assert.Equal(TimeSpan.FromMilliseconds(500), Grammars.Duration("500ms"));
        Assert.Equal(TimeSpan.FromHours(1), Grammars.Duration("1h"));
    }

    [Fact]
    public void A_percentage_with_a_trailing_newline_is_a_schema_error_not_a_crash()
    {
        var result = LoadWith("services/api.yaml", "maxParallel: 25%", "maxParallel: \"50%\\n\"");
        var error = SingleError(result);
        Assert.Equal("/strategy/maxParallel", error.JsonPointer);
        foreach (var bad in new[] { "50%\n", "0%", "101%", "05%", "%", "50", " 50%", "\u0665\u0660%" })
            Assert.False(Grammars.TryParsePercentage(bad, out _), bad);
        Assert.True(Grammars.TryParsePercentage("100%", out var all) && all == 100);
    }

    [Theory]
    [InlineData("services/api.yaml", "version: 1.4.2", "version: \"1.4.2\\n\"", "/version")]
    [InlineData("services/api.yaml", "path: /srv/api", "path: \"/srv/api\\n\"", "/deploy/path")]
    [InlineData("services/api.yaml", "restartCommand: ./bin/restart --port ${host.vars.httpPort}", "restartCommand: \"./bin/restart\\n\"", "/deploy/restartCommand")]
    [InlineData("services/api.yaml", "sha256: 3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550", "sha256: \"3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550\\n\"", "/artifact/sha256")]
    [InlineData("services/api.yaml", "url: artifacts/api-${version}.tar.gz", "url: \"artifacts/api-${version}.tar.gz\\n\"", "/artifact/url")]
    [InlineData("services/api.yaml", "{ secret: env:API_DB_PASSWORD }", "{ secret: \"env:API_DB_PASSWORD\\n\" }", "/config/DB_PASSWORD/secret")]
    [InlineData("services/api.yaml", "name: api", "name: \"api\\n\"", "/name")]
    [InlineData("services/api.yaml", "hostGroup: app", "hostGroup: \"app\\n\"", "/hostGroup")]
    [InlineData("reconciler.yaml", "state: sqlite:.reconciler/state.db", "state: \"sqlite:.reconciler/state.db\\n\"", "/state")]
    [InlineData("toggles/new-checkout.yaml", "api: \">=1.5.0\"", "api: \">=1.5.0\\n\"", "/requires/api")]
    public void A_trailing_newline_is_refused_in_every_value_that_reaches_a_command_a_path_or_a_plan(string path, string find, string replace, string pointer)
    {
        var result = LoadWith(path, find, replace);
        Assert.Contains(result.Diagnostics, d => d.Severity == Severity.Error && d.JsonPointer?.StartsWith(pointer, StringComparison.Ordinal) == true);
    }

    [Fact]
    public void A_trailing_newline_is_refused_in_host_addresses_and_host_vars()
    {
        var env = Encoding.UTF8.GetString(FixtureRepo.Files()["environments/production.yaml"]);
        var address = env[(env.IndexOf("address: ", StringComparison.Ordinal) + 9)..].Split('\n')[0];
        var result = LoadWith("environments/production.yaml", "address: " + address, $"address: \"{address}\\n\"");
        Assert.Contains(result.Diagnostics, d => d.RuleId is "schema.pattern" or "unsafe.value" && d.JsonPointer!.EndsWith("/address", StringComparison.Ordinal));
        var varsResult = LoadWith("environments/production.yaml", "httpPort: \"8080\"", "httpPort: \"8080\\n\"");
        Assert.Contains(varsResult.Diagnostics, d => d.Severity == Severity.Error && d.JsonPointer!.EndsWith("/vars/httpPort", StringComparison.Ordinal));
    }

    // --- 2. \s follows ECMA-262 --------------------------------------------------------------------------------

    [Fact]
    public void Whitespace_class_is_ecma_262s_so_a_bom_is_space_and_next_line_is_not()
    {
        // The notification URL pattern excludes \s: ECMA's \s holds U+FEFF, .NET's does not.
        var result = LoadWith("reconciler.yaml", "url: https://hooks.example.com/services/T000/B000/XXXX", "url: \"https://hooks.example.com/\\uFEFFx\"");
        Assert.Equal("/notifications/0/url", SingleError(result).JsonPointer);
        Assert.True(EcmaPattern.IsMatch(@"^[^\s]+$", "a\u0085b"));   // U+0085 is not ECMA whitespace
        Assert.False(EcmaPattern.IsMatch(@"^\S+$", "a\uFEFFb"));
        Assert.True(EcmaPattern.IsMatch(@"^\s$", "\uFEFF"));
        Assert.False(EcmaPattern.IsMatch(@"^\s$", "\u0085"));
        Assert.False(EcmaPattern.IsMatch(@"^\d$", "\u0661"));   // ARABIC-INDIC ONE is not an ECMA digit
        Assert.False(EcmaPattern.IsMatch(@"^\w$", "é"));
        Assert.False(EcmaPattern.IsMatch("^a$", "a\n"));
    }

    // --- 3. integer includes 4.0 and 4e0 ----------------------------------------------------------------------

    [Theory]
    [InlineData("4.0")]
    [InlineData("4e0")]
    [InlineData("40e-1")]
    public void An_integral_number_written_as_a_float_is_an_integer(string written)
    {
        var result = LoadWith("services/api.yaml", "keepReleases: 5", $"keepReleases: {written}");
        Assert.False(result.HasErrors, FixtureRepo.Render(result));
        Assert.Equal(4, result.Model!.Services["api"].Base.Deploy.KeepReleases);
    }

    [Fact]
    public void A_fraction_is_still_not_an_integer()
    {
        var result = LoadWith("services/api.yaml", "keepReleases: 5", "keepReleases: 4.5");
        Assert.Equal("schema.type", SingleError(result).RuleId);
    }

    // --- 4. lengths count code points ---------------------------------------------------------------------------

    [Fact]
    public void Max_length_counts_code_points_not_utf16_units()
    {
        var fits = string.Concat(Enumerable.Repeat("\U0001F600", 500));   // 500 code points, 1000 UTF-16 units
        var result = LoadWith("toggles/new-checkout.yaml", "description: New checkout flow", $"description: \"{fits}\"");
        Assert.False(result.HasErrors, FixtureRepo.Render(result));
        var tooLong = LoadWith("toggles/new-checkout.yaml", "description: New checkout flow", $"description: \"{fits}x\"");
        var error = SingleError(tooLong);
        Assert.Equal("schema.length", error.RuleId);
        Assert.Contains("at most 500 characters", error.Message);
    }

    // --- 5. YAML 1.2 scalars and keys ---------------------------------------------------------------------------

    [Theory]
    [InlineData("\u0085", "U+0085")]
    [InlineData("\u2028", "U+2028")]
    [InlineData("\u2029", "U+2029")]
    public void A_unicode_line_break_in_a_plain_scalar_is_refused_by_name_not_blamed_on_indentation(string character, string name)
    {
        var result = LoadWith("services/api.yaml", "LOG_LEVEL: info", $"LOG_LEVEL: in{character}fo");
        var error = SingleError(result);
        Assert.Equal("yaml.line-break", error.RuleId);
        Assert.Contains(name, error.Message);
        Assert.DoesNotContain("indent", error.Message);
        Assert.Equal("services/api.yaml:33:16", error.Location!.ToString());
    }

    [Fact]
    public void The_escaped_form_of_a_unicode_line_break_is_accepted_in_a_config_value()
    {
        var result = LoadWith("services/api.yaml", "LOG_LEVEL: info", "LOG_LEVEL: \"in\\Lfo\"");
        Assert.False(result.HasErrors, FixtureRepo.Render(result));
        var value = Assert.IsType<ConfigValue.Literal>(result.Model!.Services["api"].Base.Config["LOG_LEVEL"]);
        Assert.Equal("in\u2028fo", value.Value);
    }

    [Theory]
    [InlineData("true", "TRUE")]
    [InlineData("null", "NULL")]
    [InlineData("null", "~")]
    public void Keys_that_yaml_reads_as_the_same_boolean_or_null_are_refused(string first, string second)
    {
        var result = LoadWith("toggles/new-checkout.yaml", "  staging: true\n", $"  staging: true\n  {first}: true\n  {second}: false\n");
        Assert.Contains(result.Diagnostics, d => d.RuleId == "yaml.key-type" && d.Message.Contains($"'{first}'", StringComparison.Ordinal));
        Assert.Contains(result.Diagnostics, d => d.RuleId == "yaml.key-type" && d.Message.Contains($"'{second}'", StringComparison.Ordinal));
    }

    [Fact]
    public void A_long_octal_is_an_integer()
    {
        var (root, _, diagnostics) = YamlToJson.Convert(Encoding.UTF8.GetBytes("a: 0o0000000000000000000017\nb: 0o1000000000000000000000\n"));
        Assert.Empty(diagnostics);
        Assert.Equal(Newtonsoft.Json.Linq.JTokenType.Integer, root!["a"]!.Type);
        Assert.Equal(15L, (long)root["a"]!);
        Assert.Equal(System.Numerics.BigInteger.Pow(8, 21), root["b"]!.ToObject<System.Numerics.BigInteger>());
    }

    [Fact]
    public void A_64_bit_hex_is_read_as_its_value_not_as_minus_one()
    {
        var result = LoadWith("services/api.yaml", "keepReleases: 5", "keepReleases: 0xFFFFFFFFFFFFFFFF");
        var error = SingleError(result);
        Assert.Equal("schema.range", error.RuleId);
        Assert.Contains("at most", error.Message);
        Assert.Contains("0xFFFFFFFFFFFFFFFF", error.Message);
    }

    // --- strict grammars: control characters are refused everywhere but in config values -----------------------

    [Theory]
    [InlineData("services/api.yaml", "restartCommand: ./bin/restart --port ${host.vars.httpPort}", "restartCommand: \"./bin/restart\\e[2J\"", "/deploy/restartCommand")]
    [InlineData("services/api.yaml", "restartCommand: ./bin/restart --port ${host.vars.httpPort}", "restartCommand: \"./bin/restart\\tx\"", "/deploy/restartCommand")]
    [InlineData("toggles/new-checkout.yaml", "description: New checkout flow", "description: \"New\\acheckout\"", "/description")]
    [InlineData("toggles/new-checkout.yaml", "description: New checkout flow", "description: \"New\\x85checkout\"", "/description")]
    [InlineData("environments/production.yaml", "reason: holiday freeze", "reason: \"holiday\\e freeze\"", "/freezeWindows/0/reason")]
    [InlineData("reconciler.yaml", "url: https://hooks.example.com/services/T000/B000/XXXX", "url: \"https://hooks.example.com/\\x7F\"", "/notifications/0/url")]
    public void A_control_character_is_refused_outside_config_values(string path, string find, string replace, string pointer)
    {
        var error = SingleError(LoadWith(path, find, replace));
        Assert.Equal(pointer, error.JsonPointer);
        Assert.Contains("control character", error.Message);
    }

    [Fact]
    public void A_control_character_is_kept_in_a_config_value()
    {
        var result = LoadWith("services/api.yaml", "LOG_LEVEL: info", "LOG_LEVEL: \"in\\afo\"");
        Assert.False(result.HasErrors, FixtureRepo.Render(result));
    }
}
