using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Reconciler.Diff.Live;

namespace Reconciler.State;

/// <summary>
/// How stored values other than services (those go through <see cref="LiveServiceReader"/>) are read: the product's
/// dialect (<see cref="ReconcilerJson.Options"/>), compile-time metadata for the toggles every plan reads (reflection
/// metadata and its JIT cost more than the reading in a short-lived CLI), and sorted dictionaries built on the ordinal
/// comparer as they are read instead of built on the default comparer and re-sorted. Writing keeps using ReconcilerJson.
/// </summary>
[JsonSerializable(typeof(LiveToggle))]
internal sealed partial class StateJsonContext : JsonSerializerContext
{
    // Lazy: static initializers of the two halves of this partial class run in no defined order.
    private static readonly Lazy<JsonSerializerOptions> LazyReading = new(CreateReading);

    public static JsonSerializerOptions Reading => LazyReading.Value;

    private static JsonSerializerOptions CreateReading()
    {
        var options = new JsonSerializerOptions(ReconcilerJson.Options)
        {
            TypeInfoResolver = JsonTypeInfoResolver.Combine(Default, ReconcilerJsonContext.Default),
        };
        options.Converters.Insert(0, new OrdinalSortedDictionaryReader());
        options.MakeReadOnly();
        return options;
    }
}

/// <summary>Reads JSON objects into <c>ImmutableSortedDictionary&lt;string, T&gt;</c> on the ordinal comparer, in one pass.
/// One reader per value type the stores read, listed here (Native AOT cannot promise a reader made with MakeGenericType);
/// a dictionary of another value type fails loudly when first read, instead of being sorted by the default comparer.</summary>
internal sealed class OrdinalSortedDictionaryReader : JsonConverterFactory
{
    private static readonly FrozenDictionary<Type, JsonConverter> ByValueType = new JsonConverter[]
    {
        new Reader<string>(), new Reader<LiveService>(), new Reader<LiveToggle>(), new Reader<LiveHost>(),
    }.ToFrozenDictionary(reader => reader.Type!.GetGenericArguments()[1]);

    public override bool CanConvert(Type typeToConvert) =>
        typeToConvert.IsGenericType && typeToConvert.GetGenericTypeDefinition() == typeof(ImmutableSortedDictionary<,>)
                                    && typeToConvert.GetGenericArguments()[0] == typeof(string);

    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        ByValueType.TryGetValue(typeToConvert.GetGenericArguments()[1], out var reader) ? reader
            : throw new NotSupportedException($"{typeToConvert} has no ordinal reader: list its value type in {nameof(OrdinalSortedDictionaryReader)}.");

    private sealed class Reader<TValue> : JsonConverter<ImmutableSortedDictionary<string, TValue>>
    {
        public override ImmutableSortedDictionary<string, TValue> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException($"expected an object, found {reader.TokenType}");
            var valueInfo = (JsonTypeInfo<TValue>)options.GetTypeInfo(typeof(TValue));
            var builder = ImmutableSortedDictionary.CreateBuilder<string, TValue>(StringComparer.Ordinal);
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                var key = reader.GetString()!;
                reader.Read();
                var value = JsonSerializer.Deserialize(ref reader, valueInfo);
                if (value is null && default(TValue) is not null) throw new JsonException($"'{key}' is null");
                if (!builder.TryAdd(key, value!)) throw new JsonException($"duplicate key '{key}'");
            }
            return builder.ToImmutable();
        }

        public override void Write(Utf8JsonWriter writer, ImmutableSortedDictionary<string, TValue> value, JsonSerializerOptions options) =>
            throw new NotSupportedException("these options only read; values are written with ReconcilerJson");
    }
}
