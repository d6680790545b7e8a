"""The phrase lists the stuck triggers match, as regular expressions (case-insensitive).

Each list is a default of :class:`~bot.stuck.detector.DetectorConfig` and can be
replaced in ``config.yml``. They carry meaning the NLU does not: a request for a
person or distress inside a message the NLU files as an FAQ question, a closing
remark that starts with "no" but means all is well, a request that is declined
("I don't need to talk to a person").
"""

from __future__ import annotations

from typing import Tuple

__all__ = [
    "BOT_QUESTION_PATTERNS",
    "CLOSING_PATTERNS",
    "COMMON_NOUNS",
    "DISTRESS_PATTERNS",
    "FOLLOW_UP_PATTERNS",
    "FRUSTRATION_PATTERNS",
    "HYPOTHETICAL_PATTERNS",
    "NEW_QUESTION_PATTERNS",
    "NO_PERSON_PATTERNS",
    "PRAISE_PATTERNS",
    "PROBLEM_PATTERNS",
    "REQUEST_PATTERNS",
    "RETURNING_PATTERNS",
    "SAME_NEED_PATTERNS",
    "UNRESOLVED_PATTERNS",
]

_PERSON = (
    r"(someone|somebody|anyone|anybody|a person|a human|an? (real|actual|live|proper) (person|human)|an? agent|"
    r"an? advisor|an? adviser|an? representative|an? operator|a manager|your staff|a member of (your )?(staff|team)|"
    r"one of your colleagues|a colleague|customer service)"
)
_RELATIVE = (
    r"(husband|wife|partner|mum|mom|mother|dad|father|son|daughter|brother|sister|gran|grandma|grandmother|"
    r"grandad|grandfather|grandpa|nan|nana|child|baby|fianc[eé]e?|uncle|aunt|auntie|friend|parents?)"
)

# A capitalised word that may be a name ("Kim"), not a pronoun or an article of a message in capitals.
_NAME = r"(?!(It|This|That|Them|Him|Her|One|My|Your|The|Money|Cash)\b)(?-i:[A-Z][a-z]+)"

# A request for a person, also inside a message the NLU files elsewhere ("my card was
# stolen, I need to speak to someone now"), and the indirect ones ("is there anyone at the
# bank who could look at this?", "I'd rather not do this with a machine").
REQUEST_PATTERNS: Tuple[str, ...] = (
    r"\b(speak|talk|chat|connect me|put me through|transfer me)\b.{0,20}\b(to|with)\b.{0,15}\b" + _PERSON + r"\b",
    r"\b(real|actual|live) (person|human|agent)\b",
    r"\bhuman,? please\b",
    r"\b(get|give|find) me (a|an|some) (human|person|agent|representative|operator)\b",
    r"\b(a|an|some) (human|person|agent|representative|operator) (to )?(explain|help|look|call|sort|deal|check)",
    r"\b(is|are) there (anyone|anybody|someone|somebody|a person|a human|people|staff)\b.{0,30}"
    r"\b(who|I (can|could)|to (talk|speak|help|explain)|at the bank|there|available|around)\b",
    r"\b(pass|hand|send|forward|refer|escalate) (this|it|me|my (case|query|issue|question|problem))( on| over)? "
    r"to " + _PERSON + r"\b",
    r"\b(someone|somebody|a person|a human|a colleague|one of your colleagues|a member of (your )?(staff|team)) "
    r"(who|that) (works|can (actually )?(see|look|check|help|access)|could (see|look|check|help)|has access)\b",
    r"\b(one of your|a) (colleagues?|team members?)\b.{0,20}\b(around|available|there|help|look|take over|do)\b",
    r"\bcan a (member|person|colleague) (of|from) (your|the) (team|staff|bank)\b",
    r"\b(can|could|would|will|may) (a|an|one of your|someone from your|somebody from your) (member of (your |the )?"
    r"(staff|team)|staff member|colleagues?|advis[eo]rs?|agents?|person|human)\b.{0,25}\b(look|check|help|call|ring|"
    r"sort|go through)\b",
    r"\b(need|want|would like|'d like) (a|an|some) (human|person|agent|real person)\b",
    r"\b(rather not|don'?t want to|not going to|won'?t) (do|discuss|sort|deal with|talk about|go through) "
    r"(this|it|that|all this)( any more)? (with|through|to) (a|the|this|some) (machine|bot|robot|computer|program)\b",
    # the person who served them before, by name or not ("can I talk to Kim again?", "can I get him back?")
    r"\b(speak|talk|chat|carry on|continue)( again)? (to|with) (?!(you|it|this|that|my|your|the|a|an)\b)\w+( \w+)? "
    r"(again|from (this morning|yesterday|earlier|before|last \w+|the other day))\b",
    r"\b(get|have|bring) (him|her|" + _PERSON + r"|" + _NAME + r") back\b",
    r"\b(get|have|want) " + _NAME + r" again\b",
    r"\bput me back (through )?to\b",
    r"\b(speak|talk|chat|through|back|get|have)( again)?( to| with)? (the|that|the same) (agent|person|lady|woman|man|guy|advis[eo]r|colleague)( who| that)? (i|we) "
    r"(spoke|talked|chatted|was (speaking|talking|chatting)|had)\b",
    r"\bis " + _NAME + r" (in|there|around|available|working|free)\b(?! (in|on|for) )",
)
# Questions about the bot itself ("is this a human or a bot?", "are you a real person?"):
# curiosity, not a request; a request phrase counts only outside them.
BOT_QUESTION_PATTERNS: Tuple[str, ...] = (
    r"\b(are you|am i (talking|speaking|chatting) (to|with)|is (this|that|it)( really)?) (a|an) "
    r"(real |actual |live )?(person|human( being)?|agent|bot|robot|machine|computer)"
    r"( or (a |an )?(real |actual |live )?(person|human|agent|bot|robot|machine|computer|ai|program))?\b",
    r"\b(bot|robot|machine|ai|computer|program) or (a |an )?(real |actual |live )?(person|human|agent)\b",
    r"\b(person|human|agent) or (a |an )?(bot|robot|machine|ai|computer|program)\b",
)
# Phrases that say the customer does not want a person: a request phrase in the same
# message is not a request ("I don't need to talk to a person, just tell me...").
NO_PERSON_PATTERNS: Tuple[str, ...] = (
    r"\b(do ?n[o']?t|do not|no need to|never) (need|want|have) to (speak|talk|chat)\b",
    r"\b(do ?n[o']?t|do not) (need|want) (a|an|to see a) (real |actual |live )?(person|human|agent)\b",
    r"\bno (need for )?(a )?(human|person|agent)s?( (needed|necessary|required))?\b[,.!]?",
)
# Distress: bereavement, hardship, fraud happening now, a customer who says they need
# someone. Handed over first and gently, whatever the NLU made of the message.
DISTRESS_PATTERNS: Tuple[str, ...] = (
    # bereavement
    r"\b(passed away|passed on|bereave(d|ment)|funeral|deceased|widow(ed|er)?|executor|probate|"
    r"death certificate|next of kin)\b",
    r"\b(my|our|her|his|their) (late )?" + _RELATIVE + r"\b.{0,40}\b(died|dies|has died|is dead|was killed|"
    r"passed|lost (his|her|their) (life|battle))\b",
    r"\b(died|death of|lost) my " + _RELATIVE + r"\b",
    # fraud happening now, or just done to the customer
    r"\bsafe account\b",
    r"\b(i|i've|i have|i'm|i am|we've|we have)( just)?( been| being| got| was)? "
    r"(scammed|conned|defrauded|tricked|duped|hacked)\b",
    r"\b(i think|think|pretty sure|worried) (i'?m|i am|i'?ve|i have|it'?s|it was|this is) (being |been |a )?"
    r"(scam(med)?|fraud|con(ned)?)\b",
    # ... or told in the third person: someone got into the account, or took the money
    r"\b(someone|somebody|a hacker|hackers|they)( has| have|'s|'ve)?( just)? (hacked|broken into|got into|gotten into|"
    r"taken over) (my|our) (account|card|online banking|banking app|app)\b",
    r"\b(someone|somebody|a hacker|hackers|they)( has| have|'s|'ve)?( just)? (taken|stolen|emptied|drained|cleared out)"
    r" (all )?(of )?(my|our) (money|savings|funds|account)\b",
    r"\b(someone|somebody|a hacker|hackers)( has| have|'s|'ve)?( just)? (took|taken|stole|stolen|withdrew|withdrawn|"
    r"spent|moved) .{0,30}\bout of (my|our) (account|card|savings)\b",
    # ... or over time, from someone the customer looks after ("someone has been taking money out of her account")
    r"\b(has|have|'s|'ve) been (taking|stealing|withdrawing|draining|spending) (\w+ ){0,2}?(money|cash|savings|funds|"
    r"pension|wages|benefits)\b",
    # money controlled by a partner or relative ("my ex takes my wages", "I'm not allowed any money of my own")
    r"\b(he|she|my (ex|boyfriend|girlfriend|" + _RELATIVE[1:-1] + r")) (\w+ ){0,4}?(controls?|takes?|took|keeps?|"
    r"spends?) (all )?(of )?(my|our|the) (money|wages|salary|pay|benefits|pension|finances|savings)\b",
    r"\bnot allowed (any|to have any|to touch|to use) (\w+ )?(money|cash|card|account)\b",
    r"\b(won'?t|doesn'?t|will not|does not) let me (have|touch|use|see) (any|my)( own)? ?(money|cash|wages|account)?\b",
    # a message that asks for a click on a link because the account is locked or at risk: phishing
    r"\b(text|texted|message|messaged|email|emailed|sms)\b.{0,60}\b(locked|blocked|suspended|frozen|compromised|"
    r"at risk)\b.{0,40}\b(click|tap|follow|open)\b.{0,15}\blink\b",
    r"\b(on the phone|on the line|calling me|called me|rang me|texted me|messaged me)\b.{0,60}"
    r"\b(move|transfer|send|withdraw) (my|our|all my|the) (money|savings|funds|balance)\b",
    r"\b(as we speak|right now|happening now)\b.{0,40}\b(payments?|money|transactions?|taken|going out|leaving)\b",
    r"\b(payments?|money|transactions?) (is |are )?(still )?(being taken|going out|leaving|disappearing|draining)\b"
    r".{0,40}\b(as we speak|right now|now)\b",
    r"\b(gave|told|sent|typed( in)?|entered|shared|read out) (him|her|them|the caller|a stranger|someone)? ?(my )?"
    r"(pin|passcode|password|one[- ]time code|security code|card details|login details)\b.{0,40}"
    r"\b(caller|call|phone|text|link|man|woman|someone|stranger|pretending)\b",
    r"\b(caller|text|link|email|website|man|woman|stranger)\b.{0,60}\b(gave|told|typed( in)?|entered|put in|shared|"
    r"read out) (him|her|them)? ?(my )?(pin|passcode|password|one[- ]time code|security code|card details|"
    r"login details)\b",
    r"\b(pretending|claiming|claims|says|said|saying)( that)?( (he|she|they)('s|'re| is| are| was| were)?)?( to be)? "
    r"from (the|your|my) (bank|fraud team|security team|police)\b",
    r"\b(on the phone|on the line|caller|calling me|called me|rang me|texted me)\b.{0,80}\b(read out|give|tell|share|"
    r"send|confirm)\b.{0,30}\b(code|pin|passcode|password)\b",
    # hardship
    r"(?<!\bif i )(?<!\bif we )\bcan(no|')?t (afford|pay|keep up with|make|cover) (my |the |our |this month'?s |any )?"
    r"(loan|rent|mortgage|repayments?|bills?|food|to eat|anything|payments)\b",
    r"\b(behind|fallen behind|falling behind|in arrears) (on|with) (my |the |our )?(loan|rent|mortgage|repayments?|"
    r"payments|bills)\b",
    r"\b(desperate|at my wits'? end|can'?t cope|not coping|drowning in debt|bailiffs|debt collectors?|evicted|"
    r"eviction|homeless|food ?bank|suicid\w*|kill myself|end it all|self[- ]harm)\b",
    r"\b(really|so|truly|badly) struggling\b|\bstruggling (with money|financially|to (cope|pay|get by|manage|eat))\b",
    r"\b(scar(ed|ing) me|terrified|panicking|in tears|crying|it'?s all too much|overwhelmed)\b",
    r"\b(i'?m|i am|i feel|feeling) (really |so |very |quite )?(scared|frightened)\b",
    r"\bdon'?t know (who else to (ask|turn to|talk to)|where (else )?to turn)\b",
    r"\b(do ?n[o']?t|do not) have (anyone|anybody) (else )?to (talk to|turn to)\b|\bno ?one (else )?to (talk to|turn to)\b",
    r"\b(feel|feeling|felt) (really |so |very |completely |all |quite )?(alone|lonely|hopeless|worthless|low)\b(?! on)",
    r"\b(i'?m|i am) (so|completely|all|really|very|totally) (alone|lonely|hopeless)\b",
    # needing someone
    r"\b(just|really|desperately|badly|so) need (someone|somebody|anyone|anybody|a (real |proper |actual )?"
    r"(person|human))\b(?!['’])",
    r"\bneed (someone|somebody|anyone|anybody) to (help me|talk to|listen)\b",
    r"\b(please|pls),? (can |could |will )?(someone|somebody|anyone|anybody) (please )?help\b",
)
FRUSTRATION_PATTERNS: Tuple[str, ...] = (
    r"\b(useless|pointless|pathetic|ridiculous|rubbish|hopeless|stupid|idiotic|absurd)\b",
    r"\b(waste of (my )?time|fed up|sick of|not helping|no help at all|worst service)\b",
    r"\bthis is (a joke|a nightmare|unacceptable)\b",
    r"\b(driving me (mad|crazy|nuts|insane|up the wall|round the bend)|sick and tired|had enough|fuming|livid|"
    r"furious)\b",
    r"\bnobody (has |have |ever )?(done|helped|sorted|replied|got back|called|fixed|answered)\b",
    r"\b(asked|told you|said|explained) .{0,40}\b(twice|three times|(several|many|so many|a few) times|"
    r"again and again|over and over)\b",
)
UNRESOLVED_PATTERNS: Tuple[str, ...] = (
    r"\b(did ?n[o']?t|does ?n[o']?t|has ?n[o']?t|not) (help|answer|solve|fix|work)(ed)?\b",
    r"\bstill (not|n[o']?t|does ?n[o']?t|do ?n[o']?t|is ?n[o']?t|has ?n[o']?t|won[o']?t|can[o']?t) ",
    r"\bnot what i (asked|meant|wanted)\b",
    r"\bi (already|allready) (tried|did) (that|this|it)\b",
    r"^\W*no\W+it (did ?n[o']?t|does ?n[o']?t|has ?n[o']?t|was ?n[o']?t|is ?n[o']?t)\b",
)
# A case the customer asks about, not one they are in ("what if it still isn't there tomorrow?", "in case
# it doesn't work"): an "unresolved" phrase inside it says nothing about the answer.
HYPOTHETICAL_PATTERNS: Tuple[str, ...] = (
    r"^\W*((ok|okay|right|so|and|thanks),? )?(what if|if|in case|suppose|supposing)\b.*",
)
# A customer who says the same need again, in other words ("actually, how do I add money?", "is it
# open or not", "I did what you said but..."): with the topic just answered, repeating, however unlike
# the first wording; without them, a second question on one topic is a follow-up.
SAME_NEED_PATTERNS: Tuple[str, ...] = (
    r"\bactually\b",
    r"\bbut (how|what|when|where|why|will|would|can|could|does|do|is|are)\b",
    r"\bor not\b",
    r"\bjust (tell me|need to know|want to know)\b",
    r"\bi (did|tried|followed|done) (what you said|that|this|those steps|the steps|it)\b",
    r"(?<!until )(?<!by )(?<!since )\b(then|though)\W*$",
    # a correction: the answer missed what they meant ("no, the second charge isn't pending", "not really, I meant...")
    r"^\W*(no|nope|not really|not quite|not exactly)\b(?!\W*(thanks|thank you|worries|problem)\b)",
    r"\bi meant\b",
)
# A question that says it follows on from the answer ("and are you open on saturdays?", "what about
# Canada?", "can I get one for my daughter too?"): a new question on the topic, unless it insists.
FOLLOW_UP_PATTERNS: Tuple[str, ...] = (
    r"^\W*((ok|okay|right|great|thanks|cool|and),? )?(and|also|plus|what about|how about)\b",
    r"\b(another|one more|a second|a different|a follow[- ]up) question\b",
    r"\b(as well|too)\W*$",
    # a detail the answer left open ("how long can I defer it for", "what if it isn't there tomorrow?")
    r"^\W*((ok|okay|right|great|thanks|cool|so),? )?(how (long|much|many|often|soon)|what (if|happens|time))\b",
)
# A problem stated ("my wages haven't arrived", "the app still won't let me in", "where is my money",
# "it keeps rejecting the photo"): said again on the topic just answered, the answer did not meet the need,
# however unlike the words are to the first ones.
PROBLEM_PATTERNS: Tuple[str, ...] = (
    r"\b\w+n['’]t\b",
    r"\b(isnt|arent|wasnt|werent|hasnt|havent|hadnt|doesnt|dont|didnt|wont|cant|couldnt)\b",
    r"\b(not|never|nothing|no longer|still|keeps?|cannot)\b",
    r"^\W*where('?s| is| are)\b",
    r"\b(declined|refused|rejected|missing|disappeared|fail(s|ed)?)\b",
    # nothing changed where something should have ("my balance is the same as before")
    r"\b(the )?same as (before|it was|yesterday)\b|\bunchanged\b",
    # a payment taken more than once ("two identical payments to the same cafe", "two lots of 60 pounds")
    r"\b(twice|two times|two lots|duplicated?|identical)\b",
)
# A question that asks something new ("how long does that take", "what if it isn't there tomorrow?",
# "can I take cash out meanwhile"): a problem in it is the case it asks about, not the need said again.
NEW_QUESTION_PATTERNS: Tuple[str, ...] = (
    r"^\W*(how|what|which|who|can|could|will|would|should|shall|is|are|am|do|does|did)\b",
    # "when", "if", "whenever" open a question only when one follows ("if I send it again, when does it
    # arrive", "when will it get here?"); otherwise they tell what goes wrong ("when I tap my phone at the
    # checkout nothing happens", "if I type my card number in it fails").
    r"^\W*(when|whenever|if|in case)\b.*(\b(how|what|which|where|who|why|when)\b|\b(can|could|will|would|should|"
    r"do|does|did|is|are) (i|we|you|it|they|my|the|this|that)\b|\?\W*$)",
    r"\b(how (long|much|many|often|soon)|what (if|happens|time|about)|when (will|does|do|can|should)|"
    r"(can|could|should|do|may) (i|we)|is there|are there)\b.*\?\W*$",
)
# Words that follow "the" and name nothing in particular ("the money", "the app", "the shop"): no referent
# two messages share (customer_repeating), unlike "the council", "the airline", "the plumber". Plain words,
# not regular expressions.
COMMON_NOUNS: Tuple[str, ...] = (
    "money", "cash", "card", "cards", "account", "accounts", "balance", "app", "bank", "banks", "branch",
    "transfer", "transfers", "payment", "payments", "charge", "charges", "fee", "fees", "refund", "rate",
    "amount", "pin", "phone", "number", "code", "atm", "machine", "shop", "shops", "store", "website", "till",
    "checkout", "reader", "screen", "statement", "post", "letter", "same", "one", "other", "first", "second",
    "last", "next", "new", "old", "whole", "time", "way", "day", "week", "month", "weekend", "morning",
    "evening", "end", "moment", "thing", "problem", "issue", "answer", "bot", "person", "us", "uk",
    "wrong", "right", "correct", "full", "exact", "usual", "original", "only", "latest", "previous", "current",
    "main", "standard", "best", "most", "rest",
)
# A customer telling of an earlier contact ("hi, I was here yesterday about my refund"): the bot's answer
# to it was a guess at what they need, so their next words are no question asked again.
RETURNING_PATTERNS: Tuple[str, ...] = (
    r"\b(i|we) (was|were) (here|on|chatting|talking|speaking|in touch)\b.{0,20}"
    r"\b(yesterday|earlier|before|last \w+|this morning|the other day)\b",
    r"\b(i|we) (chatted|spoke|talked|wrote|messaged) (to|with) you\b",
    r"\blast time (you|i|we)\b",
    r"\b(it'?s|this is) me again\b",
)
# A closing remark: all is well, even when it starts with "no" ("no that's all, thanks",
# "nope, all good now", "no worries, I'll wait"), or the question taken back ("never mind").
# Never a sign of being stuck on its own.
CLOSING_PATTERNS: Tuple[str, ...] = (
    r"\b(that'?s|that is|that was|it'?s|it was) (all|everything|it for (now|today))\b",
    r"\b(nothing|none) (else|more)\b",
    r"\ball (good|fine|sorted|set|done|clear|ok|okay)\b",
    r"\b(i'?m|i am|we'?re) (all )?(good|fine|ok|okay|sorted|set)\b",
    r"\bno (worries|problem|probs|bother|need)\b",
    r"\b(thanks|thank you|thank u|thx|ta|cheers)( (anyway|again|so much|very much|a lot))?\W*$",
    r"\bi'?ll (wait|give it|check|try|leave it|be fine|manage|do that)\b",
    r"\bthat'?s (fine|ok|okay|great|perfect|grand|lovely)\b",
    # taking the question back ("actually never mind, forget it")
    r"\b(never ?mind|scratch that|don'?t worry about it)\b",
    r"(?<!\bif i )(?<!\bwhen i )(?<!\bi )(?<!\bi'll )\bforget (it|about it|that)\b",
    r"\b(it )?does ?n[o']?t matter\b(?! (what|how|if|whether|who|when))",
    r"\bsorry (for|about) (the |all the |any )?(bother|trouble|hassle|fuss)\b",
)
# A word of praise on its own ("brilliant", "perfect 👍"): the NLU may read it as sarcasm, a complaint, but
# it is no anger. Nor is it thanks: "ok", "cool" acknowledge an answer without saying it helped.
PRAISE_PATTERNS: Tuple[str, ...] = (
    r"^\W*((ok|okay),? )?(brilliant|perfect|great|lovely|excellent|fantastic|amazing|awesome|super|cool|nice|"
    r"wonderful|grand|splendid)( stuff| one| news)?\W*$",
)
