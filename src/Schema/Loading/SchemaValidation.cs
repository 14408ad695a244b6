using System.Collections.Frozen;
using System.Globalization;
using System.Text;
using Newtonsoft.Json.Linq;
using NJsonSchema;
using NJsonSchema.Validation;
using Reconciler.Schema.Model;

namespace Reconciler.Schema.Loading;

/// <summary>
/// Validates a file's JSON against the embedded schema of its kind and turns NJsonSchema's errors into messages a
/// user can act on (file:line:col from the position map, what is allowed, how to fix). Schemas are parsed once per
/// process: parsing them is far slower than validating a file.
/// </summary>
internal static class SchemaValidation
{
    public static readonly IReadOnlyList<string> Kinds = ["Repository", "Environment", "Service", "Toggle"];

    private static readonly Lazy<FrozenDictionary<string, JsonSchema>> Schemas = new(LoadSchemas);

    public static JsonSchema For(string kind) => Schemas.Value[kind];

    private static FrozenDictionary<string, JsonSchema> LoadSchemas()
    {
        var assembly = typeof(SchemaValidation).Assembly;
        var result = new Dictionary<string, JsonSchema>(StringComparer.Ordinal);
        foreach (var kind in Kinds)
        {
            var resource = $"schemas/{kind.ToLowerInvariant()}.schema.json";
            using var stream = assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"embedded schema {resource} is missing from the build");
            using var reader = new StreamReader(stream, Encoding.UTF8);
            result[kind] = DraftSeven.Load(reader.ReadToEnd());
        }
        return result.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public static void Validate(string kind, JToken root, Dictionary<string, NodeInfo> nodes, List<FileDiagnostic> diagnostics)
    {
        if (root is not JObject)
        {
            var info = nodes.GetValueOrDefault("");
            diagnostics.Add(new FileDiagnostic(Severity.Error, "schema.type",
                $"the file must be a mapping with 'apiVersion', 'kind' and the {kind} fields, but found {Describe(root, info)}",
                Math.Max(1, info.Line), Math.Max(1, info.Column), ""));
            return;
        }

        // A file of another kind in the wrong place would otherwise get a page of unrelated schema errors.
        if (root["kind"] is JValue { Type: JTokenType.String } kindToken && (string?)kindToken is { } written
            && written != kind && Kinds.Contains(written))
        {
            var (line, column) = new ParsedFile(kind, root, nodes, []).ValueAt("/kind");
            diagnostics.Add(new FileDiagnostic(Severity.Error, "schema.kind",
                $"this file says 'kind: {written}', but it sits where {kind} files go ({PlaceOf(kind)}); move it to {PlaceOf(written)} or fix the kind",
                line, column, "/kind"));
            return;
        }

        // draft-07 reads 4.0 as an integer; both validation paths see it as one.
        DraftSeven.NormalizeNumbers(root);
        // Most files are valid: settle those without loading NJsonSchema at all.
        if (CertainValidity.IsCertainlyValid(kind, root)) return;
        var errors = DraftSeven.Validate(root, For(kind));
        var file = new ParsedFile(kind, root, nodes, []);
        var seen = new HashSet<(string, int, int, string)>();
        foreach (var error in errors) Translate(error, kind, file, diagnostics, seen);
    }

    private static string PlaceOf(string kind) => kind switch
    {
        "Repository" => "reconciler.yaml",
        "Environment" => "environments/NAME.yaml",
        "Service" => "services/NAME.yaml",
        _ => "toggles/NAME.yaml",
    };

    private static void Translate(ValidationError error, string kind, ParsedFile file, List<FileDiagnostic> output, HashSet<(string, int, int, string)> seen)
    {
        switch (error)
        {
            case MultiTypeValidationError multi:
            {
                // Report the errors of the branch that matches what was written (e.g. the pattern of "25%"),
                // or "expected X or Y" when none does.
                var tokenType = TypeOf(multi.Token);
                var match = multi.Errors.FirstOrDefault(e => e.Key == tokenType || (tokenType == JsonObjectType.Integer && e.Key == JsonObjectType.Number));
                if (match.Value is { Count: > 0 } branch && match.Key != JsonObjectType.None)
                {
                    foreach (var e in branch)
                        if (!IsTypeMismatch(e.Kind)) Translate(e, kind, file, output, seen);
                    return;
                }
                var allowed = string.Join(" or ", multi.Errors.Keys.Select(TypeName));
                Add(output, seen, file, "schema.type", PointerOf(multi.Token), valueAt: true,
                    $"expected {allowed}, but found {Describe(multi.Token, file)}");
                return;
            }
            case ChildSchemaValidationError child when error.Kind is ValidationErrorKind.NotAnyOf or ValidationErrorKind.NotOneOf:
            {
                var tokenType = TypeOf(child.Token);
                var branch = child.Errors.FirstOrDefault(e => e.Key.ActualSchema.Type.HasFlag(tokenType) && tokenType == JsonObjectType.Object);
                if (branch.Value is { Count: > 0 })
                {
                    foreach (var e in branch.Value) Translate(e, kind, file, output, seen);
                    return;
                }
                Add(output, seen, file, "schema.type", PointerOf(child.Token), valueAt: true,
                    $"expected a plain value (text, number, true/false) or {{ secret: env:NAME }} / {{ secret: consul:path }}, but found {Describe(child.Token, file)}");
                return;
            }
            case ChildSchemaValidationError child:
                foreach (var e in child.Errors.Values.SelectMany(v => v)) Translate(e, kind, file, output, seen);
                return;
        }

        var token = error.Token;
        var pointer = PointerOf(token);
        switch (error.Kind)
        {
            case ValidationErrorKind.PropertyRequired:
            {
                var where = pointer.Length == 0 ? "the file" : $"'{Last(pointer)}'";
                Add(output, seen, file, "schema.required", ParsedFile.Child(pointer, error.Property ?? ""), valueAt: true,
                    $"missing required field '{error.Property}' in {where}; add it", locateAt: pointer);
                return;
            }
            case ValidationErrorKind.NoAdditionalPropertiesAllowed:
            {
                var name = error.Property ?? "";
                var schema = error.Schema.ActualSchema;
                if (schema.Properties.Count == 0 && schema.PatternProperties.Count > 0)
                {
                    var keyPattern = DraftSeven.OriginalPattern(schema.PatternProperties.Keys.First());
                    var (rule, description) = Explain(keyPattern, name, out var unsafeChar);
                    Add(output, seen, file, unsafeChar is null ? "schema.key" : rule, pointer, valueAt: false,
                        $"{Quote(name)} is not a valid {KeyNoun(pointer)}{UnsafeNote(unsafeChar)}: use {description}");
                    return;
                }
                var allowed = schema.Properties.Keys.Order(StringComparer.Ordinal).ToList();
                var hint = Suggest(name, allowed);
                Add(output, seen, file, "schema.unknown-field", pointer, valueAt: false,
                    $"unknown field {Quote(name)}{(hint is null ? "" : $" (did you mean '{hint}'?)")}; allowed fields here: {string.Join(", ", allowed)}");
                return;
            }
            case ValidationErrorKind.StringExpected or ValidationErrorKind.IntegerExpected or ValidationErrorKind.NumberExpected
                or ValidationErrorKind.BooleanExpected or ValidationErrorKind.ObjectExpected or ValidationErrorKind.ArrayExpected
                or ValidationErrorKind.NullExpected:
            {
                var expected = error.Kind switch
                {
                    ValidationErrorKind.StringExpected => "a string",
                    ValidationErrorKind.IntegerExpected => "a whole number",
                    ValidationErrorKind.NumberExpected => "a number",
                    ValidationErrorKind.BooleanExpected => "true or false",
                    ValidationErrorKind.ObjectExpected => "a mapping (key: value lines)",
                    ValidationErrorKind.ArrayExpected => "a list",
                    _ => "null",
                };
                var message = $"{FieldName(pointer)} must be {expected}, but found {Describe(token, file)}";
                if (error.Kind == ValidationErrorKind.StringExpected && token is JValue && file.Nodes.TryGetValue(pointer, out var n) && n.Raw is { } raw)
                    message += $"; quote it: \"{raw}\"";
                if (error.Kind == ValidationErrorKind.BooleanExpected && token?.Type == JTokenType.String
                    && (token.Value<string>() ?? "").ToLowerInvariant() is "yes" or "no" or "on" or "off" or "y" or "n")
                    message += " (YAML 1.2 reads yes/no/on/off as text); write true or false";
                Add(output, seen, file, "schema.type", pointer, valueAt: true, message);
                return;
            }
            case ValidationErrorKind.PatternMismatch when DraftSeven.LengthBoundOf(error.Schema.ActualSchema.Pattern) is { } bounds:
                Add(output, seen, file, "schema.length", pointer, valueAt: true, bounds.Max is { } most && (token?.Value<string>() ?? "").EnumerateRunes().Count() > most
                    ? $"{FieldName(pointer)} is too long: at most {most} characters"
                    : $"{FieldName(pointer)} is too short: at least {bounds.Min} characters");
                return;
            case ValidationErrorKind.PatternMismatch:
            {
                var value = token?.Value<string>() ?? "";
                var (rule, description) = Explain(DraftSeven.OriginalPattern(error.Schema.ActualSchema.Pattern!), value, out var unsafeChar);
                // A path that fails its pattern is unsafe even without metacharacters (relative, or "/").
                Add(output, seen, file, unsafeChar is null && rule != "unsafe.path" ? "schema.pattern" : rule, pointer, valueAt: true,
                    $"{FieldName(pointer)} {Quote(value)} is not valid{UnsafeNote(unsafeChar)}: use {description}");
                return;
            }
            case ValidationErrorKind.NotInEnumeration:
            {
                var allowed = error.Schema.ActualSchema.Enumeration.Select(v => v?.ToString() ?? "null").ToList();
                var found = Describe(token, file);
                var message = pointer switch
                {
                    "/apiVersion" => $"unsupported apiVersion {found}; use 'apiVersion: reconciler/v1'",
                    "/kind" => $"kind {found} does not belong here: files in this place have 'kind: {kind}'",
                    _ => $"{FieldName(pointer)} {found} is not one of: {string.Join(", ", allowed)}",
                };
                Add(output, seen, file, "schema.enum", pointer, valueAt: true, message);
                return;
            }
            case ValidationErrorKind.StringTooLong:
                Add(output, seen, file, "schema.length", pointer, valueAt: true,
                    $"{FieldName(pointer)} is too long: at most {error.Schema.ActualSchema.MaxLength} characters");
                return;
            case ValidationErrorKind.StringTooShort:
                Add(output, seen, file, "schema.length", pointer, valueAt: true,
                    $"{FieldName(pointer)} must not be empty");
                return;
            case ValidationErrorKind.NumberTooSmall:
                Add(output, seen, file, "schema.range", pointer, valueAt: true,
                    $"{FieldName(pointer)} is {Describe(token, file)}; it must be at least {Number(error.Schema.ActualSchema.Minimum)}");
                return;
            case ValidationErrorKind.NumberTooBig:
                Add(output, seen, file, "schema.range", pointer, valueAt: true,
                    $"{FieldName(pointer)} is {Describe(token, file)}; it must be at most {Number(error.Schema.ActualSchema.Maximum)}");
                return;
            case ValidationErrorKind.TooFewProperties or ValidationErrorKind.TooManyProperties:
                Add(output, seen, file, "schema.check", pointer, valueAt: true,
                    $"a health check has exactly one of: {string.Join(", ", error.Schema.ActualSchema.Properties.Keys)}; write one check per list item");
                return;
            case ValidationErrorKind.ItemsNotUnique:
                Add(output, seen, file, "schema.unique", pointer, valueAt: true,
                    $"{FieldName(pointer)} lists the same entry more than once; remove the duplicate");
                return;
            default:
                Add(output, seen, file, "schema.invalid", pointer, valueAt: true,
                    $"{FieldName(pointer)} violates the schema ({error.Kind})");
                return;
        }
    }

    private static bool IsTypeMismatch(ValidationErrorKind kind) => kind is ValidationErrorKind.StringExpected
        or ValidationErrorKind.IntegerExpected or ValidationErrorKind.NumberExpected or ValidationErrorKind.BooleanExpected
        or ValidationErrorKind.ObjectExpected or ValidationErrorKind.ArrayExpected or ValidationErrorKind.NullExpected;

    private static void Add(List<FileDiagnostic> output, HashSet<(string, int, int, string)> seen, ParsedFile file, string rule,
        string pointer, bool valueAt, string message, string? locateAt = null)
    {
        var (line, column) = valueAt ? file.ValueAt(locateAt ?? pointer) : file.KeyAt(locateAt ?? pointer);
        if (!seen.Add((rule, line, column, message))) return;
        output.Add(new FileDiagnostic(Severity.Error, rule, message, line, column, pointer));
    }

    // --- what each pattern means, in words ---------------------------------------------------------------------

    private enum Category { Value, Path, Command }

    private sealed record PatternInfo(string Description, Category Category);

    private static readonly FrozenDictionary<string, PatternInfo> PatternTexts = new Dictionary<string, PatternInfo>
    {
        ["^[a-z][a-z0-9-]{0,62}$"] = new("lowercase letters, digits and '-', starting with a letter, at most 63 characters", Category.Value),
        ["^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\\.(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)?(\\+[0-9a-zA-Z-]+(\\.[0-9a-zA-Z-]+)*)?$"]
            = new("a semantic version such as 1.4.2 or 2.0.0-rc.1", Category.Value),
        ["^[0-9]{1,6}(ms|s|m|h)$"] = new("a duration such as 500ms, 10s, 2m or 1h", Category.Value),
        ["^[a-f0-9]{64}$"] = new("the artifact's SHA-256 as 64 lowercase hex characters", Category.Value),
        ["^[^\\u0000-\\u001F\\u007F-\\u009F]*$"] = new("a single line without control characters (no line breaks, tabs, NUL or escape characters); put longer scripts in a file in the artifact", Category.Command),
        ["^(?!.*/\\.{1,2}(?:/|$))/[A-Za-z0-9._-][A-Za-z0-9._/-]{0,253}$"] = new("an absolute path below / of letters, digits, '.', '_', '-' and '/', without '.' or '..' segments, such as /srv/api", Category.Path),
        ["^(?!.*\\.\\.)(?:(?:https?|file)://[A-Za-z0-9.:\\[\\]-]*(?:/[A-Za-z0-9._~/%+=@-]*(?:\\$\\{version\\}[A-Za-z0-9._~/%+=@-]*)*)?|[A-Za-z0-9._~%+=@-][A-Za-z0-9._~/%+=@-]*(?:\\$\\{version\\}[A-Za-z0-9._~/%+=@-]*)*)$"]
            = new("a repo-relative path (not starting with '/'), file:// or http(s):// URL of letters, digits and ._~/%+=@- (${version} allowed), without '..'", Category.Path),
        ["^https?://[^\\s'\"`;|&<>\\\\\\u0000-\\u001F\\u007F-\\u009F]+$"] = new("an http:// or https:// URL without spaces, control characters, quotes or shell characters", Category.Value),
        ["^(?:[A-Za-z0-9.:-]+|\\$\\{host\\.address\\})$"] = new("a hostname, an IP address or ${host.address}", Category.Value),
        ["^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*)$"]
            = new("a hostname (letters, digits, '-' and '.') or an IP address", Category.Value),
        ["^[a-z_][a-z0-9_-]{0,31}$"] = new("a Unix user name: lowercase letters, digits, '_' and '-', at most 32 characters", Category.Value),
        ["^(?:(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521) [A-Za-z0-9+/]+={0,3}|SHA256:[A-Za-z0-9+/]{43}=?)$"]
            = new("a public key such as 'ssh-ed25519 AAAA...' or a fingerprint 'SHA256:...'", Category.Value),
        ["^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"] = new("letters, digits, '_', '.' and '-', starting with a letter or '_', at most 128 characters", Category.Value),
        ["^[A-Za-z_][A-Za-z0-9_]{0,63}$"] = new("letters, digits and '_', starting with a letter or '_', at most 64 characters", Category.Value),
        ["^(?:env:[A-Za-z_][A-Za-z0-9_]{0,127}|consul:[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*)$"]
            = new("env:NAME (an environment variable of the applying process) or consul:path/to/key", Category.Value),
        ["^(100|[1-9][0-9]?)%$"] = new("a host count such as 2 or a percentage from 1% to 100% such as 25%", Category.Value),
        ["^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})$"]
            = new("an RFC 3339 timestamp such as 2026-12-24T00:00:00Z", Category.Value),
        ["^(?:sqlite:(?!.*\\.\\.)[A-Za-z0-9._/-]+|consul://[A-Za-z0-9.:\\[\\]-]+(?:/[A-Za-z0-9._-]+)*)$"]
            = new("sqlite:PATH (no '..') or consul://HOST:PORT/PREFIX", Category.Path),
        ["^[0-9A-Za-z.+\\-<>=^~*|, ]+$"] = new("a semver range such as >=1.5.0 or ^2.1.0", Category.Value),
        ["^[^\\u0000-\\u001F\\u007F\\u0080-\\u009F]*$"] = new("text without control characters (no line breaks, tabs, NUL or escape characters)", Category.Value),
        // Host groups from the Consul catalog (environment.schema.json #/definitions/consulCatalog).
        ["^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"] = new("a Consul service name: letters, digits, '_', '.' and '-', starting with a letter or digit, at most 128 characters", Category.Value),
        ["^[A-Za-z0-9_-]{1,64}$"] = new("a Consul datacenter name: letters, digits, '_' and '-', at most 64 characters", Category.Value),
        ["^[A-Za-z0-9_][A-Za-z0-9._-]*(?:/[A-Za-z0-9_][A-Za-z0-9._-]*)*$"]
            = new("a repo-relative file path (not starting with '/') of letters, digits, '.', '_', '-' and '/', no segment starting with '.'", Category.Path),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static (string Rule, string Description) Explain(string pattern, string value, out string? unsafeChar)
    {
        var info = PatternTexts.GetValueOrDefault(pattern) ?? new PatternInfo($"a value matching {pattern}", Category.Value);
        unsafeChar = FindUnsafe(value);
        var rule = info.Category switch
        {
            Category.Path => "unsafe.path",
            Category.Command => "unsafe.command",
            _ => "unsafe.value",
        };
        return (rule, info.Description);
    }

    /// <summary>The first thing in a value that would be dangerous in a shell command or a path, described.</summary>
    internal static string? FindUnsafe(string value)
    {
        if (value.Contains("$(", StringComparison.Ordinal)) return "'$(' (command substitution)";
        if (value.Contains("..", StringComparison.Ordinal)) return "'..' (a path that leaves its directory)";
        foreach (var ch in value)
        {
            switch (ch)
            {
                case '\n': return "a line break";
                case '\r': return "a carriage return";
                case '\0': return "a NUL character";
                case '`': return "'`' (command substitution)";
                case ';' or '|' or '&' or '<' or '>' or '$' or '\\' or '\'' or '"' or '*' or '?' or '(' or ')' or '{' or '}' or '!' or '#':
                    return $"'{ch}'";
                case ' ': return "a space";
                case < ' ' or (>= '\u007F' and <= '\u009F'): return $"the control character U+{(int)ch:X4}";
            }
        }
        return null;
    }

    private static string UnsafeNote(string? unsafeChar) =>
        unsafeChar is null ? "" : $" (it contains {unsafeChar}, which is unsafe in a shell command or a path)";

    private static string KeyNoun(string pointer) => Last(pointer) switch
    {
        "config" => "config key",
        "vars" => "host variable name",
        "hostGroups" => "host group name",
        "environments" => "environment name",
        "requires" => "service name",
        _ => "key",
    };

    // --- formatting helpers -----------------------------------------------------------------------------------

    /// <summary>RFC 6901 pointer of a token; a JProperty (as NoAdditionalPropertiesAllowed reports) points at its value.</summary>
    internal static string PointerOf(JToken? token)
    {
        var parts = new List<string>();
        for (var t = token; t?.Parent is { } parent; t = parent)
        {
            if (t is JProperty property) parts.Add(Escape(property.Name));
            else if (parent is JArray array) parts.Add(array.IndexOf(t).ToString(CultureInfo.InvariantCulture));
        }
        parts.Reverse();
        return parts.Count == 0 ? "" : "/" + string.Join("/", parts);
    }

    private static string Escape(string key) => key.Replace("~", "~0").Replace("/", "~1");

    private static string Last(string pointer)
    {
        var i = pointer.LastIndexOf('/');
        return (i < 0 ? pointer : pointer[(i + 1)..]).Replace("~1", "/").Replace("~0", "~");
    }

    /// <summary>"'version'", "'deploy.path'", "item 2 of 'dependsOn'": how a field is named in messages.</summary>
    private static string FieldName(string pointer)
    {
        if (pointer.Length == 0) return "the file";
        var parts = pointer[1..].Split('/').Select(p => p.Replace("~1", "/").Replace("~0", "~")).ToList();
        var sb = new StringBuilder();
        foreach (var part in parts)
        {
            if (int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var index)) sb.Append('[').Append(index).Append(']');
            else
            {
                if (sb.Length > 0) sb.Append('.');
                sb.Append(part);
            }
        }
        return $"'{sb}'";
    }

    private static string Describe(JToken? token, ParsedFile file) =>
        Describe(token, token is null ? default : file.Nodes.GetValueOrDefault(PointerOf(token)));

    private static string Describe(JToken? token, NodeInfo info) => token?.Type switch
    {
        JTokenType.Object => "a mapping",
        JTokenType.Array => "a list",
        JTokenType.Integer or JTokenType.Float => $"the number {info.Raw ?? token.ToString()}",
        JTokenType.Boolean => $"the boolean {info.Raw ?? token.ToString()}",
        JTokenType.Null => "nothing (null)",
        JTokenType.String => Quote(token.Value<string>() ?? ""),
        _ => "an unsupported value",
    };

    /// <summary>Quotes a user value for a message, escaping line breaks and shortening long values.</summary>
    internal static string Quote(string value)
    {
        var v = value.Replace("\\", "\\\\").Replace("\n", "\\n").Replace("\r", "\\r").Replace("\0", "\\0").Replace("\t", "\\t");
        if (v.Length > 80) v = v[..77] + "...";
        return $"'{v}'";
    }

    private static string Number(decimal? d) => d?.ToString(CultureInfo.InvariantCulture) ?? "?";

    private static JsonObjectType TypeOf(JToken? token) => token?.Type switch
    {
        JTokenType.Object => JsonObjectType.Object,
        JTokenType.Array => JsonObjectType.Array,
        JTokenType.Integer => JsonObjectType.Integer,
        JTokenType.Float => JsonObjectType.Number,
        JTokenType.Boolean => JsonObjectType.Boolean,
        JTokenType.String => JsonObjectType.String,
        JTokenType.Null => JsonObjectType.Null,
        _ => JsonObjectType.None,
    };

    private static string TypeName(JsonObjectType t) => t switch
    {
        JsonObjectType.Integer => "a whole number",
        JsonObjectType.Number => "a number",
        JsonObjectType.String => "a string",
        JsonObjectType.Boolean => "true or false",
        JsonObjectType.Object => "a mapping",
        JsonObjectType.Array => "a list",
        _ => t.ToString().ToLowerInvariant(),
    };

    /// <summary>The allowed name closest to a misspelt one (edit distance at most 2), for "did you mean".</summary>
    private static string? Suggest(string name, IEnumerable<string> allowed)
    {
        string? best = null;
        var bestDistance = 3;
        foreach (var candidate in allowed)
        {
            var d = SemanticValidation.EditDistance(name.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (d < bestDistance) { bestDistance = d; best = candidate; }
        }
        return best;
    }
}
