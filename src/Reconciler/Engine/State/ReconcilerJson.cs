using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Reconciler.State;

/// <summary>The one JSON dialect of the product (live state files, stored values, CLI --format json):
/// camelCase, enums as kebab-case strings, no nulls, stable property order (declaration order).
/// Metadata comes from <see cref="ReconcilerJsonContext"/> only, never from reflection: the shipped build is Native AOT,
/// where reflection metadata is off, and a type missing from the context fails here (in every test) as it would there.</summary>
public static class ReconcilerJson
{
    public static JsonSerializerOptions Options { get; } = Create(indented: true);
    public static JsonSerializerOptions Compact { get; } = Create(indented: false);

    /// <summary>The metadata of <typeparamref name="T"/> in these options, for the serializer's trim- and AOT-safe
    /// overloads; throws NotSupportedException when the options' resolver has none.</summary>
    public static JsonTypeInfo<T> InfoFor<T>(this JsonSerializerOptions options) => (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T));

    private static JsonSerializerOptions Create(bool indented)
    {
        var o = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            DictionaryKeyPolicy = null,                       // keys are names (services, hosts, config keys): keep them
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            WriteIndented = indented,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // readable '<', '>', '&' in plans; output is never HTML-embedded raw
            RespectNullableAnnotations = true,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
            TypeInfoResolver = ReconcilerJsonContext.Default,
        };
        o.Converters.Add(new KebabCaseEnums());
        o.MakeReadOnly();
        return o;
    }
}
