using System.Buffers;
using Zk.Embedded.Api;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Wire;

/// <summary>Framing: a 4-byte big-endian length, then that many bytes, bounded by jute.maxbuffer.</summary>
public sealed class JuteFrameTests
{
    private const int MaxFrame = JuteReader.DefaultMaxBuffer;

    [Fact]
    public void A_whole_frame_is_taken_without_its_length()
    {
        var buffer = new ReadOnlySequence<byte>(Convert.FromHexString("00000003" + "AABBCC" + "0000"));

        Assert.True(JuteFrame.TryReadFrame(buffer, MaxFrame, out var frame, out var tooLarge));
        Assert.False(tooLarge);
        Assert.Equal(new byte[] { 0xAA, 0xBB, 0xCC }, frame.ToArray());
        Assert.Equal(2, buffer.Slice(frame.End).Length);
    }

    [Theory]
    [InlineData("")]
    [InlineData("000000")]
    [InlineData("00000003AABB")]
    public void A_partial_frame_asks_for_more_bytes(string hex)
    {
        Assert.False(JuteFrame.TryReadFrame(new ReadOnlySequence<byte>(Convert.FromHexString(hex)), MaxFrame, out _, out var tooLarge));
        Assert.False(tooLarge);
    }

    [Theory]
    [InlineData("7FFFFFFF")]
    [InlineData("00100000")]
    [InlineData("FFFFFFFF")]
    [InlineData("80000000")]
    public void A_length_above_maxbuffer_or_negative_is_too_large_from_the_header_alone(string hex)
    {
        Assert.False(JuteFrame.TryReadFrame(new ReadOnlySequence<byte>(Convert.FromHexString(hex)), MaxFrame, out _, out var tooLarge));
        Assert.True(tooLarge);
    }

    [Fact]
    public void A_frame_of_exactly_maxbuffer_bytes_is_accepted_and_an_empty_frame_too()
    {
        var big = new byte[4 + 100];
        big[3] = 100;
        Assert.True(JuteFrame.TryReadFrame(new ReadOnlySequence<byte>(big), 100, out var frame, out _));
        Assert.Equal(100, frame.Length);
        Assert.True(JuteFrame.TryReadFrame(new ReadOnlySequence<byte>(new byte[4]), 100, out var empty, out _));
        Assert.Equal(0, empty.Length);
    }

    [Fact]
    public void A_length_split_across_segments_is_read()
    {
        var first = new Segment(Convert.FromHexString("0000"));
        var last = first.Append(Convert.FromHexString("0002")).Append(Convert.FromHexString("EE")).Append(Convert.FromHexString("FF"));
        var buffer = new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);

        Assert.True(JuteFrame.TryReadFrame(buffer, MaxFrame, out var frame, out _));
        Assert.Equal(new byte[] { 0xEE, 0xFF }, frame.ToArray());
    }

    [Fact]
    public void A_frame_buffer_patches_each_frames_length_and_grows_from_the_pool()
    {
        using var buffer = new JuteFrameBuffer(initialCapacity: 8);
        var data = new byte[5000];
        for (var i = 0; i < 2; i++)
        {
            buffer.BeginFrame();
            var writer = new JuteWriter(buffer);
            new RequestHeader(i + 1, OpCode.SetData).Write(ref writer);
            new SetDataRequest("/a", data, -1).Write(ref writer);
            Assert.Equal(writer.Written, buffer.EndFrame());
        }

        var sequence = new ReadOnlySequence<byte>(buffer.WrittenMemory);
        for (var i = 0; i < 2; i++)
        {
            Assert.True(JuteFrame.TryReadFrame(sequence, MaxFrame, out var frame, out _));
            var reader = new JuteReader(frame.ToArray());
            Assert.True(RequestHeader.TryRead(ref reader, out var header));
            Assert.True(SetDataRequest.TryRead(ref reader, out var body));
            Assert.True(reader.IsEnd);
            Assert.Equal(new RequestHeader(i + 1, OpCode.SetData), header);
            Assert.Equal(data.Length, body.Data!.Length);
            sequence = sequence.Slice(frame.End);
        }

        Assert.Equal(0, sequence.Length);
    }

    [Fact]
    public void A_reply_frame_reads_back_header_then_body_with_one_reader()
    {
        using var buffer = new JuteFrameBuffer();
        buffer.BeginFrame();
        var writer = new JuteWriter(buffer);
        new ReplyHeader(42, 7, ZkErrorCode.Ok).Write(ref writer);
        new GetChildren2Response(["a", "b"], new Stat(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)).Write(ref writer);
        buffer.EndFrame();

        Assert.True(JuteFrame.TryReadFrame(new ReadOnlySequence<byte>(buffer.WrittenMemory), MaxFrame, out var frame, out _));
        var reader = new JuteReader(frame.FirstSpan);
        Assert.True(ReplyHeader.TryRead(ref reader, out var header));
        Assert.True(GetChildren2Response.TryRead(ref reader, out var body));
        Assert.Equal(42, header.Xid);
        Assert.Equal(["a", "b"], body.Children!);
        Assert.Equal(11, body.Stat.Pzxid);
    }

    [Fact]
    public void Ending_a_frame_that_was_never_begun_is_a_JuteException()
    {
        using var buffer = new JuteFrameBuffer();
        Assert.Throws<JuteException>(() => buffer.EndFrame());
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
