"""What a queued customer reads with nobody to pick up (issue 13), in chromium against a real bridge, Rasa and
Redis: no promise of a person above the news that nobody is available, their first words answered once with
what becomes of them (in their language: Spanish and Arabic too), and "no thanks, that's all" pointed to the way
out, which takes them out."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from harness.clients import staff
from harness.servers import add_agent, running_bridge
from tests.browser.conftest import new_context, screenshot
from tests.browser.test_widget import bubbles, notices, open_chat, open_demo, say

KEPT = "We've kept your message for the person who picks up your chat, but no one from our team is available right now"


def test_with_nobody_available_the_queued_customer_is_told_the_truth_once_and_shown_the_way_out(
        customer_context, redis_url, rasa_url):
    with running_bridge(redis_url, rasa_url, "bridge-web-words", f"hbwords{uuid.uuid4().hex[:6]}") as bridge:
        page, errors = open_demo(customer_context, f"http://{bridge}")
        open_chat(page)
        page.get_by_role("button", name="Talk to a person").click()
        expect(page.locator(".queue__position")).to_have_text("You're number 1 in the queue")
        expect(page.locator(".panel")).to_contain_text("No one from our team is available right now.")
        expect(bubbles(page, "bot").filter(has_text="I've put you in the queue for our support team.")).to_be_visible()
        expect(page.locator(".log")).not_to_contain_text(re.compile(r"get (you )?a person|asking a person"))

        page.get_by_role("button", name="Cancel").click()  # the callback form opened by itself: they wait instead
        say(page, "is anyone there?")
        expect(notices(page, "kept_for_person")).to_contain_text(KEPT)
        say(page, "hello??")
        expect(bubbles(page, "customer").filter(has_text="hello??")).to_be_visible()
        say(page, "no thanks, that's all")
        offer = notices(page, "leave_queue_offer")
        expect(offer).to_contain_text('press "Back to the assistant" below')
        expect(notices(page, "kept_for_person")).to_have_count(1)  # once, not after every message
        screenshot(page, "widget-queued-words-kept")

        page.get_by_role("button", name="Back to the assistant").click()
        expect(notices(page, "left_queue")).to_be_visible()
        expect(page.locator(".header__status")).to_have_text("Virtual assistant")
        assert errors == [], errors


def test_the_kept_notice_is_said_in_the_customers_language_with_the_wait_or_that_nobody_can_say(
        customer_context, browser, redis_url, rasa_url, background_loop):
    """In Spanish with nobody online, in Arabic with someone to pick up (the wait in the widget's words, as the
    queue panel says it): never the bridge's English. The greeting tells them the assistant reads English only."""
    prefix = f"hbwords{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann")
    with running_bridge(redis_url, rasa_url, "bridge-web-words-i18n", prefix) as bridge:
        page, errors = open_demo(customer_context, f"http://{bridge}", "?lang=es")
        open_chat(page, "Abrir el chat")
        # The assistant reads English only for now: the greeting says so, and where the person is.
        expect(page.locator(".message--greeting")).to_contain_text("solo entiende inglés")
        page.get_by_role("button", name="Hablar con una persona").click()
        expect(page.locator(".queue__position")).to_have_text("Eres el número 1 en la cola")
        page.get_by_role("button", name="Cancelar").click()  # nobody online: the callback form opened by itself
        page.get_by_label("Escribe tu mensaje").fill("¿hay alguien?")
        page.get_by_role("button", name="Enviar", exact=True).click()
        expect(notices(page, "kept_for_person")).to_contain_text(
            "Hemos guardado tu mensaje para la persona que atienda tu chat, pero ahora mismo no hay nadie")
        page.get_by_label("Escribe tu mensaje").fill("never mind")  # the way out is offered in Spanish too
        page.get_by_role("button", name="Enviar", exact=True).click()
        expect(notices(page, "leave_queue_offer")).to_contain_text("pulsa «Volver al asistente» aquí abajo")

        ann = background_loop.run(staff(bridge, "ann"))  # now someone can pick up
        context = new_context(browser, viewport={"width": 1280, "height": 800})
        try:
            arabic, arabic_errors = open_demo(context, f"http://{bridge}", "?lang=ar")
            open_chat(arabic, "فتح المحادثة")
            expect(arabic.locator(".message--greeting")).to_contain_text("لا يفهم حاليًا إلا الإنجليزية")
            arabic.get_by_role("button", name="التحدث إلى موظف").click()
            expect(arabic.locator(".queue__wait")).to_contain_text("مدة الانتظار المتوقعة")
            arabic.get_by_label("اكتب رسالتك").fill("هل من أحد هنا؟")
            arabic.get_by_role("button", name="إرسال").click()
            kept = notices(arabic, "kept_for_person")
            expect(kept).to_contain_text("احتفظنا برسالتك للموظف الذي سيتولى محادثتك: سيقرأ كل ما تكتبه هنا. مدة الانتظار المتوقعة:")
            assert not re.search(r"[A-Za-z]", kept.locator(".message__notice").inner_text()), "no English in it"
            screenshot(arabic, "widget-queued-words-kept-ar")
            assert arabic_errors == []
        finally:
            context.close()
            background_loop.run(ann.close())
        assert errors == []
