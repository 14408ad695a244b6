using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Reconciler.State;

namespace Reconciler.Engine.Tests.State;

/// <summary>The product's dialect with reflection metadata: for shapes only tests write (an earlier version's journal
/// header, as an anonymous object), and the reference the compile-time metadata is held to byte for byte. The product's
/// own options have no reflection fallback (the shipped build is Native AOT).</summary>
internal static class ReflectionJson
{
    public static readonly JsonSerializerOptions Compact = new(ReconcilerJson.Compact) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
    public static readonly JsonSerializerOptions Indented = new(ReconcilerJson.Options) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
}
