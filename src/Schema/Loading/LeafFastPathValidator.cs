using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Newtonsoft.Json.Linq;
using NJsonSchema;
using NJsonSchema.Validation;

namespace Reconciler.Schema.Loading;

/// <summary>
/// NJsonSchema's validator allocates several collections for every node it visits, which dominated loading a
/// 5,000-file repo. This subclass first asks a fast check whether a node is certainly valid under the keywords our
/// schemas use (type, pattern, lengths, ranges, enum, properties, patternProperties, additionalProperties, required,
/// min/maxProperties, items, min/maxItems, uniqueItems), with the same rules as NJsonSchema. Anything it does not
/// fully understand, and every node that is not valid, goes to NJsonSchema, so every reported error is NJsonSchema's.
/// Tests check that both give identical results on every fixture.
/// </summary>
internal sealed class LeafFastPathValidator : JsonSchemaValidator
{
    private static readonly ICollection<ValidationError> NoErrors = Array.Empty<ValidationError>();
    private readonly ConcurrentDictionary<JsonSchema, LeafRule?> _rules = new(ReferenceEqualityComparer.Instance);

    private readonly ConcurrentDictionary<JsonSchema, ContainerRule?> _containers = new(ReferenceEqualityComparer.Instance);

    protected override ICollection<ValidationError> Validate(JToken token, JsonSchema schema, SchemaType schemaType, string? propertyName, string propertyPath)
    {
        if (IsCertainlyValid(token, schema)) return NoErrors;
        return base.Validate(token, schema, schemaType, propertyName, propertyPath);
    }

    /// <summary>True only when the token is valid by rules identical to NJsonSchema's; false means "let NJsonSchema decide".</summary>
    private bool IsCertainlyValid(JToken token, JsonSchema schema)
    {
        if (schema.AnyOf.Count > 0)
        {
            // A pure anyOf (nothing else in the schema): valid when one branch certainly is.
            if (schema.Type != JsonObjectType.None || schema.AllOf.Count > 0 || schema.OneOf.Count > 0 || schema.Not is not null
                || schema.Properties.Count > 0 || schema.Enumeration.Count > 0 || schema.HasReference)
                return false;
            foreach (var branch in schema.AnyOf)
                if (IsCertainlyValid(token, branch.ActualSchema)) return true;
            return false;
        }
        switch (token)
        {
            case JValue value:
                return _rules.GetOrAdd(schema, LeafRule.For) is { } leaf && leaf.IsValid(value);
            case JObject obj:
            {
                if (_containers.GetOrAdd(schema, ContainerRule.For) is not { Type: JsonObjectType.Object } rule) return false;
                var count = obj.Count;
                if ((rule.MinProperties > 0 && count < rule.MinProperties) || (rule.MaxProperties > 0 && count > rule.MaxProperties)) return false;
                foreach (var required in rule.Required)
                    if (!obj.ContainsKey(required)) return false;
                foreach (var property in obj.Properties())
                {
                    JsonSchema? child = null;
                    if (rule.Properties.TryGetValue(property.Name, out var declared)) child = declared;
                    else
                    {
                        foreach (var (pattern, patternSchema) in rule.PatternProperties)
                            if (pattern.IsMatch(property.Name)) { child = patternSchema; break; }
                        child ??= rule.AdditionalProperties;
                    }
                    if (child is null || !IsCertainlyValid(property.Value, child)) return false;
                }
                return true;
            }
            case JArray array:
            {
                if (_containers.GetOrAdd(schema, ContainerRule.For) is not { Type: JsonObjectType.Array } rule) return false;
                if ((rule.MinItems > 0 && array.Count < rule.MinItems) || (rule.MaxItems > 0 && array.Count > rule.MaxItems)) return false;
                HashSet<string>? seen = rule.UniqueItems ? new(StringComparer.Ordinal) : null;
                foreach (var item in array)
                {
                    if (seen is not null && (item is not JValue { Value: string s } || !seen.Add(s))) return false;
                    if (rule.Item is null || !IsCertainlyValid(item, rule.Item)) return false;
                }
                return true;
            }
            default:
                return false;
        }
    }

    /// <summary>An object or array schema made only of the keywords the fast path checks.</summary>
    private sealed class ContainerRule
    {
        public JsonObjectType Type { get; private init; }
        public Dictionary<string, JsonSchema> Properties { get; private init; } = [];
        public List<(Regex Pattern, JsonSchema Schema)> PatternProperties { get; private init; } = [];
        public JsonSchema? AdditionalProperties { get; private init; }
        public List<string> Required { get; private init; } = [];
        public int MinProperties { get; private init; }
        public int MaxProperties { get; private init; }
        public JsonSchema? Item { get; private init; }
        public int MinItems { get; private init; }
        public int MaxItems { get; private init; }
        public bool UniqueItems { get; private init; }

        public static ContainerRule? For(JsonSchema schema)
        {
            if (schema.HasReference || schema.AnyOf.Count > 0 || schema.AllOf.Count > 0 || schema.OneOf.Count > 0 || schema.Not is not null
                || schema.Enumeration.Count > 0)
                return null;
            if (schema.Type == JsonObjectType.Object)
            {
                // Without "additionalProperties: false" and no schema for extra keys, extras are allowed: not our case.
                if (schema.AllowAdditionalProperties && schema.AdditionalPropertiesSchema is null) return null;
                return new ContainerRule
                {
                    Type = JsonObjectType.Object,
                    Properties = schema.Properties.ToDictionary(p => p.Key, p => p.Value.ActualSchema, StringComparer.Ordinal),
                    PatternProperties = schema.PatternProperties.Select(p => (new Regex(p.Key), p.Value.ActualSchema)).ToList(),
                    AdditionalProperties = schema.AdditionalPropertiesSchema?.ActualSchema,
                    Required = schema.RequiredProperties.Concat(schema.Properties.Where(p => p.Value.IsRequired).Select(p => p.Key)).Distinct().ToList(),
                    MinProperties = schema.MinProperties,
                    MaxProperties = schema.MaxProperties,
                };
            }
            if (schema.Type == JsonObjectType.Array && schema.Items.Count == 0)
                return new ContainerRule
                {
                    Type = JsonObjectType.Array,
                    Item = schema.Item?.ActualSchema,
                    MinItems = schema.MinItems,
                    MaxItems = schema.MaxItems,
                    UniqueItems = schema.UniqueItems,
                };
            return null;
        }
    }

    private sealed class LeafRule
    {
        private JsonObjectType _type;
        private Regex? _pattern;
        private int? _minLength, _maxLength;
        private decimal? _minimum, _maximum;
        private HashSet<string>? _enumeration;

        /// <summary>A rule for schemas this class fully understands; null (always defer) for the rest.</summary>
        public static LeafRule? For(JsonSchema schema)
        {
            if (schema.HasReference || schema.AnyOf.Count > 0 || schema.AllOf.Count > 0 || schema.OneOf.Count > 0 || schema.Not is not null
                || schema.Properties.Count > 0 || schema.PatternProperties.Count > 0 || schema.RequiredProperties.Count > 0
                || schema.Item is not null || schema.Items.Count > 0 || !string.IsNullOrEmpty(schema.Format)
                || schema.MultipleOf is not null || schema.ExclusiveMinimum is not null || schema.ExclusiveMaximum is not null
                || schema.IsExclusiveMinimum || schema.IsExclusiveMaximum)
                return null;
            if (schema.Type is not (JsonObjectType.String or JsonObjectType.Integer or JsonObjectType.Boolean)
                && schema.Type != (JsonObjectType.String | JsonObjectType.Number | JsonObjectType.Boolean))
                return null;
            if (schema.Type == (JsonObjectType.String | JsonObjectType.Number | JsonObjectType.Boolean)
                && (!string.IsNullOrEmpty(schema.Pattern) || schema.MinLength is not null || schema.MaxLength is not null
                    || schema.Minimum is not null || schema.Maximum is not null || schema.Enumeration.Count > 0))
                return null;
            return new LeafRule
            {
                _type = schema.Type,
                _pattern = string.IsNullOrEmpty(schema.Pattern) ? null : new Regex(schema.Pattern),
                _minLength = schema.MinLength,
                _maxLength = schema.MaxLength,
                _minimum = schema.Minimum,
                _maximum = schema.Maximum,
                _enumeration = schema.Enumeration.Count == 0 ? null : schema.Enumeration.Select(e => e?.ToString() ?? "").ToHashSet(StringComparer.Ordinal),
            };
        }

        public bool IsValid(JValue value)
        {
            switch (_type)
            {
                case JsonObjectType.String:
                    if (value.Type != JTokenType.String || value.Value is not string s) return false;
                    if (_pattern is not null && !_pattern.IsMatch(s)) return false;
                    if (_minLength is { } min && s.Length < min) return false;
                    if (_maxLength is { } max && s.Length > max) return false;
                    return _enumeration is null || _enumeration.Contains(s);
                case JsonObjectType.Integer:
                    if (value.Type != JTokenType.Integer || value.Value is not long l || _enumeration is not null) return false;
                    return (_minimum is null || l >= _minimum) && (_maximum is null || l <= _maximum);
                case JsonObjectType.Boolean:
                    return value.Type == JTokenType.Boolean && _enumeration is null;
                case JsonObjectType.String | JsonObjectType.Number | JsonObjectType.Boolean:
                    // Plain config values: no other keywords allowed on such a schema (checked in For).
                    return value.Type is JTokenType.String or JTokenType.Integer or JTokenType.Float or JTokenType.Boolean;
                default:
                    return false;
            }
        }
    }
}
