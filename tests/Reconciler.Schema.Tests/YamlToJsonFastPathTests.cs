using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;
using CsCheck;
using Newtonsoft.Json.Linq;
using Reconciler.Schema.Loading;

namespace Reconciler.Schema.Tests;

/// <summary>
/// The hand-written fast path (FastYaml) must give exactly what the YamlDotNet path gives: the same tree with the same
/// JTokenTypes, the same node map and the same diagnostics. Where it cannot be sure it declines, and the result is
/// YamlDotNet's anyway; these tests also check that it does accept the files it exists for.
/// </summary>
public partial class YamlToJsonFastPathTests
{
    [Fact]
    public void Example_repo_files_are_read_by_the_fast_path_exactly_as_by_yamldotnet()
    {
        var files = Directory.EnumerateFiles(Path.Combine(ProjectRoot(), "examples", "infra-repo"), "*.yaml", SearchOption.AllDirectories).ToList();
        Assert.True(files.Count >= 10, $"found only {files.Count} example files");

        foreach (var file in files)
            AssertSameResult(File.ReadAllBytes(file), file, mustUseFastPath: true);
    }

    [Fact]
    public void Fixture_files_good_and_bad_give_the_same_result_on_both_paths()
    {
        var accepted = 0;
        foreach (var file in Directory.EnumerateFiles(FixtureRepo.Root, "*", SearchOption.AllDirectories))
        {
            var good = file.Contains($"{Path.DirectorySeparatorChar}good{Path.DirectorySeparatorChar}", StringComparison.Ordinal);
            if (AssertSameResult(File.ReadAllBytes(file), file, mustUseFastPath: good && file.EndsWith(".yaml", StringComparison.Ordinal))) accepted++;
        }
        Assert.True(accepted >= 10, $"the fast path accepted only {accepted} fixture files");
    }

    [Fact]
    public void Examples_in_the_format_doc_give_the_same_result_on_both_paths()
    {
        var doc = File.ReadAllText(Path.Combine(ProjectRoot(), "docs", "format.md"));
        var blocks = YamlBlock().Matches(doc).Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(blocks);
        foreach (var block in blocks) AssertSameResult(Encoding.UTF8.GetBytes(block), block, mustUseFastPath: false);
    }

    [Fact]
    public void Generated_benchmark_style_files_are_read_by_the_fast_path_exactly_as_by_yamldotnet()
    {
        foreach (var (name, text) in GeneratedRepo(services: 300))
            AssertSameResult(Encoding.UTF8.GetBytes(text), name, mustUseFastPath: true);
    }

    [Theory]
    // Shapes the fast path takes, with the positions YamlDotNet gives them.
    [InlineData("a:\nb: 1\n", true)]                                  // empty value: a null just after the ':'
    [InlineData("a:   # nothing\n  # here\nb:", true)]
    [InlineData("# c\n---  # x\n\na: 1\n", true)]                     // a leading document start
    [InlineData("a:\n- x\n- 'y'\nb: { c: 1, d: [], e: {} }\n", true)] // indentless sequence, empty flow collections
    [InlineData("a : b\n\"q\" : 1\n'it''s': \"x y\"\n", true)]         // space before ':', quoted keys, '' escape
    [InlineData("l:\n  - a: 1\n    b:\n    - x\n  - c: [1, [2, {d: e}]]\n", true)]
    [InlineData("a: b #c\nd: e#f\ng: h:i\nj: x [y] {z}, w\n", true)]  // '#' inside a scalar, ':' and brackets in block plain
    [InlineData("t: { start: 2026-12-24T00:00:00Z, reason: holiday freeze, s: env:X_Y }\n", true)]
    [InlineData("v: [1, -2, 0x1F, 0o17, 1.10, .inf, -.inf, .nan, ~, null, true, False, 1e3, +5, 99999999999999999999]\n", true)]
    [InlineData("ü: ünïcödé — text\n", true)]
    // Shapes it declines; YamlDotNet reads or rejects them.
    [InlineData("a: &x 1\nb: *x\n", false)]
    [InlineData("a: !!str 1\n", false)]
    [InlineData("a: |\n  text\n", false)]
    [InlineData("a: >\n  text\n", false)]
    [InlineData("a: multi\n  line\n", false)]
    [InlineData("a: 'multi\n  line'\n", false)]
    [InlineData("a: \"esc\\n\"\n", false)]
    [InlineData("? a\n: b\n", false)]
    [InlineData("%YAML 1.2\n---\na: 1\n", false)]
    [InlineData("a: 1\n---\nb: 2\n", false)]
    [InlineData("a: 1\n...\n", false)]
    [InlineData("a: 1\na: 2\n", false)]
    [InlineData("a: { b: 1, b: 2 }\n", false)]
    [InlineData("a:\tb\n", false)]
    [InlineData("a: b\r\nc: d\r\n", false)]
    [InlineData("a: [1,\n  2]\n", false)]
    [InlineData("a: { b: c:}\n", false)]
    [InlineData("a: [x, ]\n", false)]
    [InlineData("- a\n- b\n", false)]
    [InlineData("a\n", false)]
    [InlineData("", false)]
    [InlineData("# only a comment\n", false)]
    [InlineData("a: b: c\n", false)]
    [InlineData("a:\n  - x\n  b: 1\n", false)]
    [InlineData("a:\n    b: 1\n  c: 2\n", false)]
    [InlineData("a: 'x'#c\n", false)]
    [InlineData("d:\n  k  *F: v\n  b: 1\n", false)]                 // a run starting with '*' changes how YamlDotNet reads ':'
    public void Shapes_inside_and_outside_the_subset(string yaml, bool fast)
    {
        var used = AssertSameResult(Encoding.UTF8.GetBytes(yaml), yaml, mustUseFastPath: false);
        Assert.Equal(fast, used);
    }

    [Fact]
    public void Deep_flow_nesting_is_left_to_yamldotnet_which_refuses_it()
    {
        var yaml = "a: " + new string('[', 70) + new string(']', 70) + "\n";
        Assert.False(AssertSameResult(Encoding.UTF8.GetBytes(yaml), "deep", mustUseFastPath: false));
        Assert.Equal("yaml.too-deep", Assert.Single(YamlToJson.Convert(Encoding.UTF8.GetBytes(yaml)).Diagnostics).RuleId);
    }

    [Fact]
    public void Mutated_files_give_the_same_result_whether_or_not_the_fast_path_is_on()
    {
        var bases = MutationBases();
        // YAML punctuation, whitespace and a few non-ASCII and line-break characters YamlDotNet treats specially.
        const string alphabet = ":-[]{}'\"#,&*!|>%@`?~ \n\t\r\\x0.e-10\u00e9\u2014\u2028\u00a0";
        var edit = Gen.Select(Gen.Int[0, 5], Gen.Int[0, 1_000_000], Gen.Int[0, alphabet.Length - 1], Gen.Int[1, 4]);
        var gen =
            from file in Gen.Int[0, bases.Count - 1]
            from edits in edit.Array[1, 3]
            select (file, edits);

        var accepted = 0;
        var total = 0;
        gen.Sample(t =>
        {
            var text = Mutate(bases[t.file], t.edits, alphabet);
            total++;
            if (AssertSameResult(Encoding.UTF8.GetBytes(text), text, mustUseFastPath: false)) accepted++;
        }, iter: 3000, threads: 1);

        // The property would say nothing if every mutant were declined.
        Assert.True(accepted > total / 10, $"the fast path accepted {accepted} of {total} mutants");
    }

    [Fact]
    public void Documents_built_from_tricky_pieces_give_the_same_result_whether_or_not_the_fast_path_is_on()
    {
        // Well-formed structure (nesting, indentless sequences, flow collections, comments, odd indentation steps)
        // around scalars that sit on the edges of the subset, so many documents are accepted and compared.
        var accepted = 0;
        var total = 0;
        Gen.Int.Select(seed => TrickyDocument(new Random(seed))).Sample(text =>
        {
            total++;
            if (AssertSameResult(Encoding.UTF8.GetBytes(text), text, mustUseFastPath: false)) accepted++;
        }, iter: 3000, threads: 1);

        Assert.True(accepted > total / 20, $"the fast path accepted {accepted} of {total} documents");
    }

    private static readonly string[] TrickyScalars =
    [
        "a", "b c", "x:y", "http://h:8/p?q=1&r=2", "1", "-1", "1.10", "0x1F", "0o7", "1e3", ".inf", "~", "null", "true", "False",
        "x #y", "x# y", "x:", "x: y", "-", "- x", "-x", "?x", "? x", ":x", "*x", "x *y", "&x", "!x", "%x", "@x", "`x", "|", ">",
        "'q'", "'q''r'", "\"d\"", "\"d\\n\"", "'", "\"", "[x]", "{x}", "x,y", "x [y]", "x {y}", "...", "---", "--- x", "x ---",
        "\u00e9\u2014\u00fc", "a\u00a0b", "a  b", " a", "a ", "#", "x #", "y:z:w", "x:,", "x:]", "25%", "${v}", "a\\b", "<<", "=",
        "2026-12-24T00:00:00Z",
    ];

    private static string TrickyDocument(Random r)
    {
        var sb = new StringBuilder();
        if (r.Next(10) == 0) sb.Append("---\n");
        Mapping(0, 0, firstInline: true);
        return sb.ToString();

        string Scalar(bool mayQuote)
        {
            var a = TrickyScalars[r.Next(TrickyScalars.Length)];
            if (r.Next(3) == 0) a = a.Replace(" ", "");
            if (!mayQuote || r.Next(4) != 0) return a;
            return r.Next(2) == 0 ? "'" + a.Replace("'", "''") + "'" : "\"" + a + "\"";
        }

        string Key() => r.Next(3) == 0 ? Scalar(true) : "k" + r.Next(6);

        string Flow(int depth)
        {
            if (depth > 2 || r.Next(3) == 0) return Scalar(true);
            var items = Enumerable.Range(0, r.Next(4));
            if (r.Next(2) == 0) return "[" + string.Join(", ", items.Select(_ => Flow(depth + 1))) + "]";
            var pad = r.Next(2) == 0 ? " " : "";
            return "{" + pad + string.Join(r.Next(2) == 0 ? ", " : ",", items.Select(_ => Key() + ": " + Flow(depth + 1))) + pad + "}";
        }

        void Comment()
        {
            if (r.Next(8) == 0) sb.Append(' ', r.Next(6)).Append("# c\n");
            if (r.Next(10) == 0) sb.Append('\n');
        }

        void Mapping(int indent, int depth, bool firstInline)
        {
            var n = 1 + r.Next(4);
            for (var i = 0; i < n; i++)
            {
                if (!(firstInline && i == 0))
                {
                    Comment();
                    sb.Append(' ', indent + (r.Next(30) == 0 ? 1 : 0));
                }
                sb.Append(Key()).Append(r.Next(20) == 0 ? " :" : ":");
                Value(indent, depth);
            }
        }

        void Value(int indent, int depth)
        {
            var step = r.Next(5) == 0 ? 4 : r.Next(8) == 0 ? 1 : 2;
            switch (depth > 3 ? r.Next(3) : r.Next(6))
            {
                case 0: sb.Append(' ').Append(Scalar(true)).Append(r.Next(6) == 0 ? " # t" : "").Append('\n'); break;
                case 1: sb.Append(' ').Append(Flow(0)).Append('\n'); break;
                case 2: sb.Append(r.Next(2) == 0 ? "\n" : "  # e\n"); break;
                case 3:
                    sb.Append('\n').Append(' ', indent + step);
                    Mapping(indent + step, depth + 1, firstInline: true);
                    break;
                default:
                    sb.Append('\n');
                    var seqIndent = r.Next(3) == 0 ? indent : indent + step;
                    var items = 1 + r.Next(3);
                    for (var i = 0; i < items; i++)
                    {
                        if (i > 0) Comment();
                        sb.Append(' ', seqIndent).Append("- ");
                        switch (r.Next(3))
                        {
                            case 0: sb.Append(Scalar(true)).Append('\n'); break;
                            case 1: sb.Append(Flow(0)).Append('\n'); break;
                            default: Mapping(seqIndent + 2, depth + 1, firstInline: true); break;
                        }
                    }
                    break;
            }
        }
    }

    private static string Mutate(string text, (int Kind, int Position, int Char, int Length)[] edits, string alphabet)
    {
        var sb = new StringBuilder(text);
        foreach (var (kind, position, ch, length) in edits)
        {
            var at = position % (sb.Length + 1);
            var lineStart = at == 0 ? 0 : sb.ToString(0, at).LastIndexOf('\n') + 1;
            switch (kind)
            {
                case 0: sb.Insert(at, alphabet[ch]); break;                                   // insert punctuation
                case 1: sb.Remove(at, Math.Min(length, sb.Length - at)); break;               // delete characters
                case 2: sb.Insert(lineStart, new string(' ', length)); break;                 // indent a line more
                case 3:                                                                      // indent a line less
                    var spaces = 0;
                    while (lineStart + spaces < sb.Length && spaces < length && sb[lineStart + spaces] == ' ') spaces++;
                    sb.Remove(lineStart, spaces);
                    break;
                case 4: sb.Remove(at, Math.Min(length, sb.Length - at)).Insert(at, alphabet[ch]); break; // replace
                default:                                                                     // duplicate a line
                    var end = sb.ToString().IndexOf('\n', lineStart);
                    var line = end < 0 ? sb.ToString(lineStart, sb.Length - lineStart) + "\n" : sb.ToString(lineStart, end - lineStart + 1);
                    sb.Insert(lineStart, line);
                    break;
            }
        }
        return sb.ToString();
    }

    private static List<string> MutationBases()
    {
        var bases = Directory.EnumerateFiles(Path.Combine(ProjectRoot(), "examples", "infra-repo"), "*.yaml", SearchOption.AllDirectories)
            .Select(File.ReadAllText).ToList();
        bases.AddRange(GeneratedRepo(services: 3).Select(f => f.Text));
        bases.Add("a:\n- x\n- 'y'\nb: { c: 1, d: [], e: {} }\nl:\n  - a: 1\n    b:\n    - x\n  - c: [1, [2, {d: e}]]\nk: 'it''s'\n");
        return bases;
    }

    /// <summary>Both paths on the same bytes; fails on any difference. Returns whether the fast path produced the result.</summary>
    private static bool AssertSameResult(byte[] bytes, string what, bool mustUseFastPath)
    {
        var slow = YamlToJson.Convert(bytes, fastPath: false, out var slowUsedFast);
        var fast = YamlToJson.Convert(bytes, fastPath: true, out var usedFast);
        Assert.False(slowUsedFast);
        var expected = Dump(slow.Root, slow.Nodes, slow.Diagnostics);
        var actual = Dump(fast.Root, fast.Nodes, fast.Diagnostics);
        if (expected != actual)
            Assert.Fail($"fast path differs from YamlDotNet for:\n{what}\n--- YamlDotNet:\n{expected}\n--- fast path:\n{actual}");
        if (mustUseFastPath) Assert.True(usedFast, $"the fast path declined:\n{what}");
        return usedFast;
    }

    /// <summary>A text form that tells apart everything the loader can see: token types, values (doubles exactly),
    /// property order, every node's positions, kind and raw text, and the diagnostics.</summary>
    private static string Dump(JToken? root, Dictionary<string, NodeInfo> nodes, List<FileDiagnostic> diagnostics)
    {
        var sb = new StringBuilder();
        Write(root, 0);
        foreach (var (pointer, n) in nodes.OrderBy(p => p.Key, StringComparer.Ordinal))
            sb.Append(CultureInfo.InvariantCulture, $"node '{pointer}' {n.Line}:{n.Column} key {n.KeyLine}:{n.KeyColumn} {n.Kind} raw={n.Raw ?? "<null>"}\n");
        foreach (var d in diagnostics) sb.Append(d).Append('\n');
        return sb.ToString();

        void Write(JToken? token, int depth)
        {
            sb.Append(' ', depth * 2);
            switch (token)
            {
                case null: sb.Append("<no root>\n"); break;
                case JObject obj:
                    sb.Append("{\n");
                    foreach (var p in obj.Properties())
                    {
                        sb.Append(' ', depth * 2 + 1).Append('"').Append(p.Name).Append("\":\n");
                        Write(p.Value, depth + 1);
                    }
                    sb.Append(' ', depth * 2).Append("}\n");
                    break;
                case JArray array:
                    sb.Append("[\n");
                    foreach (var item in array) Write(item, depth + 1);
                    sb.Append(' ', depth * 2).Append("]\n");
                    break;
                case JValue value:
                    var text = value.Value switch
                    {
                        double d => BitConverter.DoubleToInt64Bits(d).ToString(CultureInfo.InvariantCulture),
                        null => "null",
                        var v => System.Convert.ToString(v, CultureInfo.InvariantCulture),
                    };
                    sb.Append(CultureInfo.InvariantCulture, $"{value.Type} {value.Value?.GetType().Name} {text}\n");
                    break;
                default: sb.Append(token.Type).Append('\n'); break;
            }
        }
    }

    /// <summary>Files shaped like bench/Reconciler.Bench's generated repo (docs/benchmarks/repo.md), with some variety.</summary>
    private static IEnumerable<(string Name, string Text)> GeneratedRepo(int services)
    {
        var random = new Random(20261122);
        yield return ("reconciler.yaml", """
            apiVersion: reconciler/v1
            kind: Repository
            state: sqlite:.reconciler/state.db
            defaults:
              keepReleases: 5
              onFailure: rollback
              strategy: { type: rolling, maxParallel: 25% }
              health: { interval: 1s, consecutivePasses: 2, minHealthy: 2s, deadline: 30s }

            """);
        foreach (var env in new[] { "dev", "staging", "production" })
        {
            var sb = new StringBuilder($"apiVersion: reconciler/v1\nkind: Environment\nname: {env}\n");
            if (env == "production") sb.Append("regions: [eu-west, us-east]\n");
            sb.Append("hostGroups:\n");
            for (var g = 0; g < 4; g++)
            {
                sb.Append(CultureInfo.InvariantCulture, $"  group-{g:D2}:\n    hosts:\n");
                for (var h = 0; h < 3; h++)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"      - name: {env}-{g:D2}-{h}\n        address: 10.0.{g}.{h + 10}\n        user: deploy\n");
                    sb.Append("        hostKey: \"SHA256:q3Zk0yT5mB8vLr2Xw9NcH4eJf7uPd6aGs1oKi0xYbE8\"\n");
                    if (env == "production") sb.Append(h % 2 == 0 ? "        region: eu-west\n" : "        region: us-east\n");
                }
            }
            yield return ($"environments/{env}.yaml", sb.ToString());
        }
        for (var i = 0; i < services; i++)
        {
            var name = $"svc-{i:D5}";
            var version = $"{1 + random.Next(3)}.{random.Next(20)}.{random.Next(10)}";
            var deps = i == 0 ? [] : Enumerable.Range(0, random.Next(4)).Select(_ => $"svc-{random.Next(i):D5}").Distinct().Order(StringComparer.Ordinal).ToList();
            var port = 8000 + i % 1000;
            var strategy = i % 3 == 0 ? "{ type: canary, canary: 1, maxParallel: 25% }" : "{ type: rolling, maxParallel: 2 }";
            var comment = i % 7 == 0 ? "  # why this one differs\n" : "";
            var quoted = i % 5 == 0 ? $"'{random.Next(3600)}s'" : $"\"{random.Next(3600)}s\"";
            yield return ($"services/{name}.yaml", $$"""
                # yaml-language-server: $schema=../schemas/service.schema.json
                apiVersion: reconciler/v1
                kind: Service
                name: {{name}}
                version: {{version}}
                artifact:
                  url: "https://artifacts.example.com/{{name}}/{{name}}-${version}.tar.gz"
                  sha256: {{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(name)))}}
                hostGroup: group-{{i % 20:D2}}
                dependsOn: [{{string.Join(", ", deps)}}]
                deploy:
                  driver: ssh
                  path: /srv/{{name}}
                  restartCommand: ./bin/restart
                  stopCommand: ./bin/stop
                  keepReleases: 5
                strategy: {{strategy}}
                health:
                  interval: 1s
                  consecutivePasses: 2
                  minHealthy: 2s
                  deadline: 60s
                  checks:
                    - http: { url: "http://${host.address}:{{port}}/health", expectStatus: 200, timeout: 2s }
                    - tcp: { port: {{port}} }
                config:
                {{comment}}  PORT: "{{port}}"
                  LOG_LEVEL: info
                  WORKERS: "{{1 + random.Next(16)}}"
                  CACHE_TTL: {{quoted}}
                  RATIO: {{random.Next(10)}}.{{random.Next(100)}}
                  UPSTREAM: http://svc-{{random.Next(Math.Max(1, i)):D5}}.internal:8080
                  DB_PASSWORD: { secret: env:{{name.Replace('-', '_').ToUpperInvariant()}}_DB_PASSWORD }
                environments:
                  dev:
                    config: { LOG_LEVEL: debug, WORKERS: "1" }
                  staging:
                    version: {{version}}
                    config: { LOG_LEVEL: debug }
                  production:
                    strategy: { type: rolling, maxParallel: 25% }
                    config: { LOG_LEVEL: warn }

                """);
        }
        for (var t = 0; t < 5; t++)
            yield return ($"toggles/toggle-{t:D4}.yaml", $"""
                apiVersion: reconciler/v1
                kind: Toggle
                name: toggle-{t:D4}
                description: Generated toggle {t}
                requires:
                  svc-{t:D5}: ">=1.{t}.0"
                environments:
                  dev: true
                  staging: {(t % 2 == 0 ? "true" : "false")}
                  production: false

                """);
    }

    [GeneratedRegex("```yaml\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex YamlBlock();

    private static string ProjectRoot([CallerFilePath] string here = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));
}
