using EdgeSelector.Core.Features;
using EdgeSelector.Learning.Training;
using Xunit;

namespace EdgeSelector.Learning.Tests.Training;

public sealed class CrossTitleModelTests
{
    [Fact]
    public void FromJson_Layout1File_KeepsItsCoefficientsAndAddsTheInteractedOnes()
    {
        // A cross-title.json written before schema 2: 17 coefficients per tag and no "layout" key.
        var old = Enumerable.Range(0, 34).Select(i => (i * 0.01).ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        var json = $$"""{"tags":["comedy","drama"],"mean":[{{string.Join(',', old)}}],"variance":[{{string.Join(',', Enumerable.Repeat("0.001", 34))}}]}""";
        var model = CrossTitleModel.FromJson(json, priorVariance: 0.02);
        Assert.Equal(CrossTitleModel.CurrentLayout, model.Layout);
        Assert.Equal(2 * CrossTitleModel.PerTag, model.Mean.Count);
        Assert.Equal(0.17, model.Mean[CrossTitleModel.PerTag], 12); // drama's bias: old index 17
        Assert.Equal(0.16, model.Mean[MemberProfile.GenreCount], 12); // comedy's last genre coefficient
        Assert.Equal(0.0, model.Mean[CrossTitleModel.InteractedOffset]);
        Assert.Equal(0.02, model.Variance[CrossTitleModel.InteractedOffset]);

        var again = CrossTitleModel.FromJson(model.ToJson());
        Assert.Equal(model.Mean, again.Mean);
        Assert.Throws<InvalidDataException>(() => CrossTitleModel.FromJson("""{"layout":3,"tags":["a"],"mean":[0],"variance":[0]}"""));
    }

    [Fact]
    public void Fold_AnImageWithoutTags_GetsItsEmbeddingsShare()
    {
        var model = new CrossTitleModel();
        model.EnsureEmbedding(2, 0.01);
        model.EmbeddingMean[0] = 0.1;                                   // dimension 0: bias
        model.EmbeddingMean[1 + 3] = 0.2;                               // dimension 0: genre 3
        model.EmbeddingMean[CrossTitleModel.PerTag + CrossTitleModel.InteractedOffset + 3] = -0.4; // dimension 1: genre 3 × interacted
        var genre = new double[MemberProfile.GenreCount];
        var interacted = new double[MemberProfile.GenreCount];
        model.Fold([], [0.5f, 2f], genre, interacted, out var bias);
        Assert.Equal(0.05, bias, 12);
        Assert.Equal(0.1, genre[3], 12);
        Assert.Equal(-0.8, interacted[3], 12);

        model.Fold([], [0.5f], genre, interacted, out bias); // a vector of another dimension is not this model's
        Assert.Equal(0.0, bias);
    }
}
